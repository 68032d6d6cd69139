import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateApiKeys1764600000000 implements MigrationInterface {
  name = 'CreateApiKeys1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "registry"."api_keys" (
        "id" uuid PRIMARY KEY,
        "name" text NOT NULL,
        "prefix" text NOT NULL,
        "hash" text NOT NULL,
        "scope" text NOT NULL CHECK ("scope" IN ('admin', 'invoke')),
        "functions" jsonb NOT NULL DEFAULT '[]',
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "revoked_at" timestamptz,
        CONSTRAINT "api_keys_hash_unique" UNIQUE ("hash")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "registry"."api_keys"`);
  }
}
