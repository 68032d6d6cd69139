import { mkdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import { ConformanceProxy, createTestDatabase, groupedMismatches, isolatedEnv, OpenApiDocument } from '@platform/testing';
import { startPlatform as start } from '../../tools/platform';

export interface RunningPlatform {
  /** The gateway, through the proxy that checks every answer against the served OpenAPI document. */
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
  /** Stops everything; throws, listing them, when answers differed from the OpenAPI document. */
  stop(): Promise<void>;
}

export const OPENAPI_PATH = '/api/v1/functions/swagger-ui-json';
/** The gateway's invocation routes take any sub-path (`/fn/{label}/a/b`), which OpenAPI paths cannot say. */
const INVOCATION_ROUTES = ['/api/v1/functions/invoke/{id}', '/fn/{label}'];
/** Served on purpose outside the document: the documentation itself, the health probes and the web console's files. */
const OUTSIDE_THE_API = /^(\/healthz|\/readyz|\/metrics|\/console(\/.*)?|\/api\/v1\/functions\/swagger-ui(-json|-yaml|\/.*)?)$/;
/** Where each suite's list of answers that differ from the OpenAPI document goes. */
export const CONFORMANCE_DIR = process.env.HKS_CONFORMANCE_DIR ?? path.resolve(__dirname, '../../.hks/conformance');

async function servedDocument(gatewayUrl: string): Promise<OpenApiDocument> {
  const res = await fetch(gatewayUrl + OPENAPI_PATH, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${OPENAPI_PATH} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as OpenApiDocument;
}

/** The test file that started the platform, to name its report after (jest's, when it runs under jest). */
function suiteName(): string {
  const testPath = (globalThis as { expect?: { getState(): { testPath?: string } } }).expect?.getState().testPath;
  return testPath ? path.basename(testPath).replace(/\.e2e-spec\.ts$/, '') : `platform-${process.pid}`;
}

/** Writes the proxy's report for this suite; throws when any answer differed from the document. */
function settleConformance(proxy: ConformanceProxy): void {
  const file = path.join(CONFORMANCE_DIR, `${suiteName()}.txt`);
  mkdirSync(CONFORMANCE_DIR, { recursive: true });
  writeFileSync(file, proxy.report());
  const summary = proxy.summary();
  if (process.env.HKS_CONFORMANCE_DEBUG) process.stdout.write(`${proxy.summaryText()}\n(report: ${file})\n`);
  if (summary.mismatches === 0) return;
  throw new Error(
    `${summary.mismatches} of ${summary.checked} answers differ from the served OpenAPI document (${OPENAPI_PATH}); every one is in ${file}. By kind:\n` +
      groupedMismatches(proxy.mismatches(), 20, 120),
  );
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
  let conformance: ConformanceProxy;
  try {
    platform = await start({ env: iso.env, randomPorts: true, logDir, readyTimeoutMs: 90_000 });
    try {
      // Every client of the suite (api(), fetch, the hks CLI, event streams) goes through this proxy.
      const document = await servedDocument(platform.gatewayUrl);
      conformance = await ConformanceProxy.start({
        target: platform.gatewayUrl,
        document,
        prefixRoutes: INVOCATION_ROUTES,
        outsideTheApi: (p) => OUTSIDE_THE_API.test(p),
      });
    } catch (err) {
      await platform.stop();
      throw err;
    }
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
    gatewayUrl: conformance.url,
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
      await conformance.close();
      await platform.stop();
      await db.drop().catch(() => undefined);
      if (!process.env.KEEP_E2E_DATA) iso.cleanup();
      settleConformance(conformance);
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
export async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
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
