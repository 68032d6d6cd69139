import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A function's runtime family is checked by the code's list of runtimes (RUNTIMES in @platform/runtimes), not by
 * the database: a new runtime is a folder and a line there, with no migration.
 */
export class RuntimeFamilyUnchecked1764800000000 implements MigrationInterface {
  name = 'RuntimeFamilyUnchecked1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "registry"."functions" DROP CONSTRAINT IF EXISTS "functions_family_check"`);
  }

  async down(q: QueryRunner): Promise<void> {
    // NOT VALID: rows of runtimes added since stay; new rows are held to the two families again.
    await q.query(`ALTER TABLE "registry"."functions" ADD CONSTRAINT "functions_family_check" CHECK ("family" IN ('node', 'python')) NOT VALID`);
  }
}
