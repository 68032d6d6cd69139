import { CreateFunctionDto } from '@platform/contracts';
import { resolveRuntime, templateOf } from '@platform/runtimes';
import { validatePayload } from '@platform/messaging';
import { sourceProblem } from '@platform/sources';
import { readFileSync } from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';
import { loadFunctionYaml } from '../manifest/function-yaml';
import { collectFiles } from '../source/collect';
import { buildFunctionRequest, FunctionRequest } from './deploy-spec';

/* The product doc's three function.yaml examples, verbatim (test/fixtures/doc), deployed as `hks function deploy` would. */
const DOC = path.resolve(__dirname, '../../../../test/fixtures/doc');
const ENV = { DATABASE_URL: 'postgres://app:secret@db.internal:5432/app' };

function requestFor(example: string, env: Record<string, string | undefined> = ENV): FunctionRequest {
  const dir = path.join(DOC, example);
  return buildFunctionRequest(undefined, loadFunctionYaml(dir, env), {}, collectFiles(dir));
}

/** What the registry checks of a create request: the DTO's validation (as the RPC handler runs it), the triggers, the runtime. */
function acceptedByTheApi(request: FunctionRequest): void {
  const dto = validatePayload(CreateFunctionDto, JSON.parse(JSON.stringify(request)));
  expect(dto.config?.triggers?.map((t) => sourceProblem(t))).toEqual(request.config.triggers?.map(() => undefined));
  // The registry's checks: the runtime resolves to an installed version, the template is the runtime's, the module is there.
  const family = resolveRuntime(request.runtime).resolved.language;
  const template = templateOf(family, request.template);
  const module = request.handler.slice(0, request.handler.lastIndexOf('.'));
  expect(template.moduleFiles(module).some((f) => f in request.files)).toBe(true);
}

describe("the product doc's function.yaml examples", () => {
  it('hello-api: an http trigger, 256MB as 256 MiB, 30s, and DATABASE_URL from the environment', () => {
    const request = requestFor('hello-api');
    expect(request).toEqual({
      label: 'hello-api',
      runtime: 'python3.9',
      handler: 'main.handle',
      files: {
        'function.yaml': readFileSync(path.join(DOC, 'hello-api/function.yaml'), 'utf8'),
        'main.py': readFileSync(path.join(DOC, 'hello-api/main.py'), 'utf8'),
      },
      config: {
        triggers: [{ type: 'http', methods: ['GET', 'POST'], path: '/api/hello', auth: 'required' }],
        resources: { memoryMb: 256, timeoutMs: 30_000 },
        env: { DATABASE_URL: ENV.DATABASE_URL, LOG_LEVEL: 'info' },
      },
    });
    acceptedByTheApi(request);
  });

  it('order-processor: a queue trigger with a batch wait in ms, scaling min/max/concurrency', () => {
    const request = requestFor('order-processor');
    expect(request).toMatchObject({ label: 'order-processor', runtime: 'nodejs16', handler: 'index.handle' });
    expect(Object.keys(request.files)).toEqual(['function.yaml', 'index.js']);
    expect(request.config).toEqual({
      triggers: [{ type: 'queue', source: 'order-events', batchSize: 10, maxBatchWaitMs: 5000 }],
      scaling: { minInstances: 0, maxInstances: 100, concurrency: 10 },
    });
    acceptedByTheApi(request);
    // The doc's keys as written are not the API's: without the translation, the API refuses them.
    const untranslated = { ...request, config: { triggers: [{ type: 'queue', source: 'order-events', batch_size: 10, max_batch_wait: '5s' }] } };
    expect(() => validatePayload(CreateFunctionDto, untranslated)).toThrow('config.triggers: queue trigger has no field "batch_size"');
  });

  it('daily-cleanup: a schedule in a time zone, 512MB as 512 MiB, 300s', () => {
    const request = requestFor('daily-cleanup');
    expect(request).toMatchObject({ label: 'daily-cleanup', runtime: 'python3.9', handler: 'cleanup.handle' });
    expect(request.config).toEqual({
      triggers: [{ type: 'schedule', cron: '0 2 * * *', timezone: 'Asia/Tokyo' }],
      resources: { memoryMb: 512, timeoutMs: 300_000 },
    });
    acceptedByTheApi(request);
  });

  it('daily-cleanup-fast: the same function ticking every 2 seconds', () => {
    const request = requestFor('daily-cleanup-fast');
    expect(request.config.triggers).toEqual([{ type: 'schedule', cron: '*/2 * * * * *', timezone: 'Asia/Tokyo' }]);
    expect(request.config.resources).toEqual({ memoryMb: 512, timeoutMs: 300_000 });
    acceptedByTheApi(request);
  });

  it('refuses hello-api when DATABASE_URL is not set, saying which variable and where', () => {
    let thrown: unknown;
    try {
      requestFor('hello-api', {});
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toBe(
      'function.yaml:13: environment.DATABASE_URL: ${DATABASE_URL} is not set in the environment (export DATABASE_URL=..., or write ${DATABASE_URL:-default})',
    );
  });

  it('resolves nodejs16 and python3.9 to versions installed here, saying so when it is not the one asked for', () => {
    const node = resolveRuntime(requestFor('order-processor').runtime).resolved;
    expect(node).toMatchObject({ language: 'node', requested: 'nodejs16', version: process.versions.node });
    expect(node.warning).toBe(`Node.js 16 is not installed here: "nodejs16" runs on Node.js ${process.versions.node}, the nearest newer version`);
    const python = resolveRuntime('python3.9').resolved;
    expect(python.language).toBe('python');
    // pyenv's 3.9 where there is one (then no warning), else the nearest newer Python, with the warning.
    if (python.version!.startsWith('3.9.')) expect(python.warning).toBeUndefined();
    else expect(python.warning).toContain(`"python3.9" runs on Python ${python.version}`);
  });
});
