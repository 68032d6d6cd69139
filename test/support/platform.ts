import * as path from 'path';
import { createTestDatabase, isolatedEnv } from '@platform/testing';
import { startPlatform as start } from '../../tools/platform';

export interface RunningPlatform {
  gatewayUrl: string;
  invokerUrl: string;
  /** The services' internal credential (header x-hks-internal-token), for calls to internal ports. */
  internalToken: string;
  ports: Record<string, number>;
  env: Record<string, string>;
  dataDir: string;
  logDir: string;
  /** Sends a signal (SIGKILL by default) to one service; resolves once it has exited. Supervision restarts it. */
  kill(service: string, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null } | null>;
  /** Resolves once the service answers /readyz again. */
  waitReady(service: string, timeoutMs?: number): Promise<void>;
  /** Every exit of every service since the start, by service name. */
  exits(): Record<string, Array<{ code: number | null; signal: string | null; at: number }>>;
  /** The admin API key the first start wrote to HKS_DATA_DIR/admin-key. */
  adminKey: string;
  stop(): Promise<void>;
}

/**
 * Starts the six services from dist/ as separate processes, in their own database, RabbitMQ/Redis namespace and
 * data directory, on free ports. `npm run build` must have run (scripts/test does it).
 */
export async function startPlatform(extraEnv: Record<string, string> = {}): Promise<RunningPlatform> {
  const db = await createTestDatabase('hks_e2e');
  const iso = isolatedEnv({ DATABASE_URL: db.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...extraEnv });
  const logDir = path.join(iso.dataDir, 'logs');
  let platform;
  try {
    platform = await start({ env: iso.env, randomPorts: true, logDir, readyTimeoutMs: 90_000 });
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
  const { adminKey } = platform;
  if (!adminKey) {
    await platform.stop();
    await db.drop().catch(() => undefined);
    throw new Error(`the first start wrote no admin key (${platform.adminKeyFile})`);
  }
  return {
    gatewayUrl: platform.gatewayUrl,
    invokerUrl: platform.invokerUrl,
    internalToken: platform.internalToken,
    ports: platform.ports,
    env: platform.env,
    dataDir: iso.dataDir,
    logDir,
    kill: platform.kill,
    waitReady: platform.waitReady,
    exits: platform.exits,
    adminKey,
    stop: async () => {
      await platform.stop();
      await db.drop().catch(() => undefined);
      if (!process.env.KEEP_E2E_DATA) iso.cleanup();
    },
  };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch with JSON in and out, never throwing on a status. `T`: the body as a contracts type (default: an object whose fields a test reads). */
export async function api<T = Record<string, unknown>>(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
  const res = await fetch(base + url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}
