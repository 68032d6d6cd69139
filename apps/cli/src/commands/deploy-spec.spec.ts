import { DEFAULT_ENTRY_MODULES as CONTRACT_MODULES } from '@platform/contracts';
import { templateOf } from '@platform/runtimes';
import { UsageError } from '../errors';
import { parseFunctionYaml } from '../manifest/function-yaml';
import { buildFunctionRequest, DEFAULT_ENTRY_MODULES, moduleFileCandidates } from './deploy-spec';

const PY = { 'function.py': 'def handle(req):\n    return "hi"\n' };
const manifest = parseFunctionYaml(
  'name: hello-world\nruntime: python3.9\nhandler: function.handle\ntriggers:\n  - http: {}\n  - schedule: {cron: "0 * * * *"}\n' +
    'resources: {memory: 256Mi, timeout: 30s}\nenvironment: {LEVEL: info}\n',
  {},
);

describe('the request `hks function deploy` sends', () => {
  it('takes everything from function.yaml when there are no flags', () => {
    expect(buildFunctionRequest(undefined, manifest, {}, PY)).toEqual({
      label: 'hello-world',
      runtime: 'python3.9',
      handler: 'function.handle',
      files: PY,
      config: {
        triggers: [{ type: 'http' }, { type: 'schedule', cron: '0 * * * *' }],
        resources: { memoryMb: 256, timeoutMs: 30_000 },
        env: { LEVEL: 'info' },
      },
    });
  });

  it('reads --memory 256MB as 256 MiB', () => {
    expect(buildFunctionRequest('f', undefined, { runtime: 'python3', memory: '256MB' }, PY).config.resources).toEqual({ memoryMb: 256 });
  });

  it('lets flags override the file, field by field', () => {
    const r = buildFunctionRequest('other-name', manifest, { runtime: 'python3.11', memory: '1Gi', env: ['LEVEL=debug', 'TOKEN=a=b'], maxInstances: '3' }, PY);
    expect(r.label).toBe('other-name');
    expect(r.runtime).toBe('python3.11');
    expect(r.config.resources).toEqual({ memoryMb: 1024, timeoutMs: 30_000 });
    expect(r.config.env).toEqual({ LEVEL: 'debug', TOKEN: 'a=b' });
    expect(r.config.scaling).toEqual({ maxInstances: 3 });
  });

  it('refuses flags that with the file make a config Knative would refuse, naming why', () => {
    expect(() => buildFunctionRequest('f', manifest, { minInstances: '20' }, PY)).toThrow(
      new UsageError('config.scaling.minInstances (20) is more than maxInstances (10, the default); set maxInstances to at least 20 or lower minInstances'),
    );
    expect(() => buildFunctionRequest('f', manifest, { env: ['K_REVISION=x'] }, PY)).toThrow(/config\.env\.K_REVISION is reserved/);
    expect(() => buildFunctionRequest('f', manifest, { timeout: '11m' }, PY)).toThrow("--timeout '11m' is not a duration from 10ms to 10m (e.g. 30s)");
    expect(buildFunctionRequest('f', manifest, { minInstances: '20', maxInstances: '20', timeout: '10m' }, PY).config).toMatchObject({
      scaling: { minInstances: 20, maxInstances: 20 },
      resources: { timeoutMs: 600_000 },
    });
  });

  it("replaces the file's triggers of the kind a flag names and keeps the others", () => {
    const r = buildFunctionRequest(undefined, manifest, { trigger: ['cron'], schedule: '*/5 * * * *', timezone: 'Europe/Paris' }, PY);
    expect(r.config.triggers).toEqual([{ type: 'http' }, { type: 'schedule', cron: '*/5 * * * *', timezone: 'Europe/Paris' }]);
  });

  it('builds triggers from flags alone', () => {
    const r = buildFunctionRequest('f', undefined, { runtime: 'python3.9', trigger: ['http'], queue: 'orders', eventType: 'ORDER_PLACED' }, PY);
    expect(r.config.triggers).toEqual([{ type: 'http' }, { type: 'queue', source: 'orders' }, { type: 'event', eventType: 'ORDER_PLACED' }]);
  });

  it('takes a custom dotted event type and refuses what is not one', () => {
    const r = buildFunctionRequest('f', undefined, { runtime: 'python3.9', eventType: 'com.shop.order.placed' }, PY);
    expect(r.config.triggers).toEqual([{ type: 'event', eventType: 'com.shop.order.placed' }]);
    expect(() => buildFunctionRequest('f', undefined, { runtime: 'python3.9', eventType: 'order placed' }, PY)).toThrow(
      '--trigger event needs --event-type, e.g. --event-type ORDER_PLACED or --event-type com.shop.order.placed',
    );
  });

  it('finds the handler module when none is named, and picks the typescript template for .ts code', () => {
    expect(buildFunctionRequest('f', undefined, { runtime: 'python3' }, { 'main.py': 'x', 'lib.py': 'y' }).handler).toBe('main.*');
    const ts = buildFunctionRequest('f', undefined, { runtime: 'node' }, { 'handler.ts': 'export default () => 1', 'package.json': '{}' });
    expect(ts).toMatchObject({ handler: 'handler.*', template: 'typescript' });
    expect(buildFunctionRequest('f', undefined, { runtime: 'node', handler: 'src/app.handle' }, { 'src/app.js': 'x' }).template).toBeUndefined();
  });

  it.each([
    [undefined, {}, PY, 'no function name: pass it (hks function deploy NAME) or set name in function.yaml'],
    ['f', {}, PY, 'no runtime: pass --runtime (e.g. python3.11 or nodejs20) or set runtime in function.yaml'],
    ['Bad_Name', { runtime: 'node' }, PY, '"Bad_Name" is not a valid function name'],
    ['9lives', { runtime: 'node' }, PY, '"9lives" is not a valid function name: use 1-63 lowercase letters, digits or dashes, starting with a letter'],
    ['f', { runtime: 'ruby' }, PY, '--runtime ruby is not a runtime the platform runs'],
    ['f', { runtime: 'python3', handler: 'app.handle' }, PY, 'handler "app.handle" needs app.py or app/__init__.py, which is not among the files to deploy'],
    ['f', { runtime: 'python3' }, { 'lib.py': '' }, 'no handler: pass --handler <module>.<function>'],
    ['f', { runtime: 'python3', memory: '12 apples' }, PY, "--memory '12 apples' is not a memory size"],
    ['f', { runtime: 'python3', timeout: 'soon' }, PY, "--timeout 'soon' is not a duration"],
    ['f', { runtime: 'python3', env: ['NOVALUE'] }, PY, '--env NOVALUE is not NAME=value'],
    ['f', { runtime: 'python3', trigger: ['cron'] }, PY, '--trigger cron needs --schedule'],
    ['f', { runtime: 'python3', schedule: '0 * *' }, PY, '--schedule: "0 * *" is not a cron expression with five fields'],
    ['f', { runtime: 'python3', trigger: ['webhook'] }, PY, '--trigger webhook is not a trigger'],
    ['f', { runtime: 'python3', concurrency: '0' }, PY, '--concurrency 0 is not a whole number from 1 to 1000'],
    ['f', { runtime: 'python3', queue: 'two words' }, PY, '--queue: queue trigger source "two words" is not a name of letters, digits'],
    ['f', { runtime: 'python3', memory: '8MB' }, PY, "--memory '8MB' is not a memory size from 16Mi to 16Gi"],
  ])('refuses %p %p with a message saying what to fix', (name, flags, files, message) => {
    let thrown: unknown;
    try {
      buildFunctionRequest(name, undefined, flags, files);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toContain(message);
  });

  it('looks for handler modules exactly where the platform does', () => {
    expect(DEFAULT_ENTRY_MODULES).toEqual([...CONTRACT_MODULES]);
    for (const [module, family, template] of [
      ['function', 'python', 'python'],
      ['pkg.mod', 'python', 'python'],
      ['src/app', 'node', 'node'],
      ['handler', 'node', 'typescript'],
    ] as const) {
      expect(moduleFileCandidates(module, family, template)).toEqual(templateOf(family, template).moduleFiles(module));
    }
  });
});
