import { DataSource } from 'typeorm';
import { openDataSource } from '@platform/persistence';
import { createTestDatabase, waitFor } from '@platform/testing';
import { builderMigrations } from '../migrations';
import { Build } from './build.entity';
import { BuildLog } from './build-log';

describe('build log streaming into the build row', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('hks_buildlog');
    ds = await openDataSource({ url: db.url, schema: 'builder', entities: [Build], migrations: builderMigrations });
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  async function newBuild(id: string): Promise<void> {
    await ds.query(
      `INSERT INTO "builder"."builds" ("id", "function_id", "label", "version", "status", "template", "runtime", "entrypoint")
       VALUES ($1, gen_random_uuid(), 'fn', 1, 'RUNNING', 'node', 'node', 'handler.*')`,
      [id],
    );
  }
  const logOf = async (id: string) => ((await ds.query(`SELECT "log" FROM "builder"."builds" WHERE "id" = $1`, [id])) as Array<{ log: string }>)[0].log;

  it('shows output in the row while the build is still running, in order', async () => {
    await newBuild('b1');
    const log = new BuildLog(ds, 'b1');
    log.write('step one\n');
    log.write('step two\n');
    await waitFor(async () => (await logOf('b1')) === 'step one\nstep two\n', { what: 'the first lines in the row' });
    log.write('done\n');
    await log.close();
    expect(await logOf('b1')).toBe('step one\nstep two\ndone\n');
    log.write('after close is ignored\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(await logOf('b1')).toBe('step one\nstep two\ndone\n');
  });

  it('keeps the beginning and the end of a very long log, marking what was left out', async () => {
    await newBuild('b2');
    const log = new BuildLog(ds, 'b2');
    log.write('FIRST LINE\n');
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 2048; i++) log.write(line);
    log.write('the error at the end\n');
    await log.close();
    const text = await logOf('b2');
    expect(text.startsWith('FIRST LINE\n')).toBe(true);
    expect(text).toMatch(/\[\.\.\. \d+ characters of build output left out \.\.\.\]/);
    expect(text.endsWith('the error at the end\n')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(1024 * 1024 + 100);
  });
});
