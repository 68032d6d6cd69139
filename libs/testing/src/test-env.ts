import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { Client } from 'pg';

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A fresh database for one test file; `drop()` removes it (and closes nothing it did not open). */
export async function createTestDatabase(prefix = 'hks_t'): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix + '_');
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Settings for one isolated test: its own namespace (RabbitMQ exchanges/queues, Redis keys), data
 * directory and, when given, database. Pass the result as the env of SettingsModule.forRoot.
 */
export function isolatedEnv(extra: Record<string, string> = {}): {
  env: Record<string, string>;
  dataDir: string;
  cleanup: () => void;
} {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hks-test-'));
  const env = {
    HKS_NAMESPACE: uniqueName('hkst'),
    AMQP_URL,
    REDIS_URL,
    HKS_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    ...extra,
  };
  return { env, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v as T;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
