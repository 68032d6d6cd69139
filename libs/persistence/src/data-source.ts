import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { SnakeNamingStrategy } from './naming-strategy';

export interface ServiceDataSourceOptions {
  url: string;
  /** Postgres schema the service owns, e.g. "registry"; its migrations table lives there too. */
  schema: string;
  /** As TypeORM takes them: entity classes, schemas or globs. */
  entities: NonNullable<DataSourceOptions['entities']>;
  /** Migration classes or globs. */
  migrations: NonNullable<DataSourceOptions['migrations']>;
  poolSize?: number;
  logging?: boolean;
}

export function dataSourceOptions(o: ServiceDataSourceOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: o.url,
    schema: o.schema,
    entities: o.entities,
    migrations: o.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    namingStrategy: new SnakeNamingStrategy(),
    logging: o.logging ?? false,
    extra: { max: o.poolSize ?? 10 },
  };
}

/** Creates the database named in the URL when it does not exist yet (fresh machines, test runs). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } catch (err) {
        // Another service created it at the same moment.
        if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Opens the service's data source: creates its schema and runs its pending migrations under an
 * advisory lock, so replicas starting together do not race. Never `synchronize`.
 */
export async function openDataSource(o: ServiceDataSourceOptions): Promise<DataSource> {
  await ensureDatabase(o.url);
  const ds = new DataSource(dataSourceOptions(o));
  await ds.initialize();
  tagConnectionErrors(ds);
  try {
    await migrate(ds, o.schema);
  } catch (err) {
    await ds.destroy();
    throw err;
  }
  return ds;
}

/**
 * A pool that cannot open a connection rejects with a bare socket error (`read ECONNRESET`, no TypeORM frame):
 * mark it as Postgres's, so the error filter answers 503 naming Postgres instead of 500.
 */
function tagConnectionErrors(ds: DataSource): void {
  const driver = ds.driver as unknown as { obtainMasterConnection?: () => Promise<unknown> };
  const obtain = driver.obtainMasterConnection?.bind(driver);
  if (!obtain) return;
  driver.obtainMasterConnection = () =>
    obtain().catch((err: unknown) => {
      if (err && typeof err === 'object') Object.defineProperty(err, 'dependency', { value: 'Postgres', enumerable: false });
      throw err;
    });
}

export async function migrate(ds: DataSource, schema: string): Promise<void> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  const lockKey = `hks-migrations:${schema}`;
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    await runner.release();
  }
}
