import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deployments used to keep their resolved env, secret values included, in plain text. Each row now keeps its
 * function's plain env only (the secret values are read from the registry when an invoker asks).
 */
export class DropSecretValues1765000000000 implements MigrationInterface {
  name = 'DropSecretValues1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE "deployer"."deployments" SET "env" = COALESCE("spec"->'config'->'env', '{}'::jsonb) WHERE "env" IS NOT NULL`);
  }

  async down(): Promise<void> {
    // The secret values are not kept anywhere here to put back; nothing to undo.
  }
}
