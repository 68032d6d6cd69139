import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The exact runtime version a build was made for (python3.9 -> 3.9.18), kept with the version and, for the function's
 * last successful build, on the function: what it runs on from then on, whatever interpreters come and go. Rows
 * built before it have none (they resolve as before).
 */
export class RecordedRuntimeVersion1770000000000 implements MigrationInterface {
  name = 'RecordedRuntimeVersion1770000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "registry"."function_versions" ADD COLUMN IF NOT EXISTS "runtime_version" text`);
    await q.query(`ALTER TABLE "registry"."functions" ADD COLUMN IF NOT EXISTS "built_runtime_version" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "registry"."functions" DROP COLUMN IF EXISTS "built_runtime_version"`);
    await q.query(`ALTER TABLE "registry"."function_versions" DROP COLUMN IF EXISTS "runtime_version"`);
  }
}
