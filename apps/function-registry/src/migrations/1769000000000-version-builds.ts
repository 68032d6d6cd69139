import { MigrationInterface, QueryRunner } from 'typeorm';
import { buildSourceDigest } from '@platform/contracts';
import { effectiveConfigOf, runtimeFamily } from '@platform/runtimes';
import { buildFiles } from '../functions/function-rules';

/**
 * Each version keeps what was built from it (bundle, image, build state) and the digest of its code and
 * configuration, so any version can be deployed again and identical code finds its old version.
 */
export class VersionBuilds1769000000000 implements MigrationInterface {
  name = 'VersionBuilds1769000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "registry"."function_versions"
        ADD COLUMN IF NOT EXISTS "source_digest" text,
        ADD COLUMN IF NOT EXISTS "build_id" uuid,
        ADD COLUMN IF NOT EXISTS "build_status" text CHECK ("build_status" IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
        ADD COLUMN IF NOT EXISTS "build_error" text,
        ADD COLUMN IF NOT EXISTS "bundle_digest" text,
        ADD COLUMN IF NOT EXISTS "image" text`);
    await q.query(`CREATE INDEX IF NOT EXISTS "function_versions_source" ON "registry"."function_versions" ("function_id", "source_digest")`);
    const rows: Array<Record<string, unknown>> = await q.query(
      `SELECT "function_id", "version", "template", "runtime", "handler", "files", "entrypoint", "config" FROM "registry"."function_versions" WHERE "source_digest" IS NULL`,
    );
    for (const r of rows) {
      const family = runtimeFamily(r.runtime as string);
      if (!family) continue;
      const digest = buildSourceDigest({
        template: r.template as never,
        runtime: r.runtime as string,
        family,
        files: buildFiles({ family, template: r.template as never, handler: r.handler as string | null, files: r.files as Record<string, string> | null }),
        entrypoint: r.entrypoint as string,
        config: effectiveConfigOf(r.config as never, family),
      });
      await q.query(`UPDATE "registry"."function_versions" SET "source_digest" = $3 WHERE "function_id" = $1 AND "version" = $2`, [
        r.function_id,
        r.version,
        digest,
      ]);
    }
    // The last successful build of each function belongs to its built version.
    await q.query(`
      UPDATE "registry"."function_versions" v SET "bundle_digest" = f."bundle_digest", "image" = f."image", "build_status" = 'SUCCEEDED'
        FROM "registry"."functions" f
       WHERE f."id" = v."function_id" AND f."built_version" = v."version" AND f."bundle_digest" IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS "registry"."function_versions_source"`);
    await q.query(`
      ALTER TABLE "registry"."function_versions"
        DROP COLUMN IF EXISTS "source_digest", DROP COLUMN IF EXISTS "build_id", DROP COLUMN IF EXISTS "build_status",
        DROP COLUMN IF EXISTS "build_error", DROP COLUMN IF EXISTS "bundle_digest", DROP COLUMN IF EXISTS "image"`);
  }
}
