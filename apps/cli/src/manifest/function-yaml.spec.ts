import { EVENT_TYPE_PATTERN as CONTRACT_EVENT_TYPE, LABEL_PATTERN as CONTRACT_LABEL } from '@platform/contracts';
import { ManifestError } from './yaml-reader';
import { EVENT_TYPE_PATTERN, LABEL_PATTERN, parseFunctionYaml } from './function-yaml';

const DOC = `name: hello-world
runtime: python3.9
handler: function.handle
description: Says hello
triggers:
  - http: {methods: [GET, POST], path: /hello, auth: none}
  - queue: {source: orders, batch_size: 10, max_batch_wait: 5s}
  - schedule: {cron: "0 * * * *", timezone: Europe/Paris}
resources: {memory: 256Mi, timeout: 30s}
environment:
  API_URL: \${API_URL}
  LEVEL: info
scaling: {min_instances: 0, max_instances: 10, concurrency: 5}
`;

function problem(text: string, env: Record<string, string> = {}): string {
  try {
    parseFunctionYaml(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('function.yaml', () => {
  it('maps the documented example to the API config', () => {
    const m = parseFunctionYaml(DOC, { API_URL: 'https://api.example.com' });
    expect(m).toEqual({
      name: 'hello-world',
      runtime: 'python3.9',
      handler: 'function.handle',
      description: 'Says hello',
      config: {
        triggers: [
          { type: 'http', methods: ['GET', 'POST'], path: '/hello', auth: 'none' },
          { type: 'queue', source: 'orders', batchSize: 10, maxBatchWaitMs: 5000 },
          { type: 'schedule', cron: '0 * * * *', timezone: 'Europe/Paris' },
        ],
        resources: { memoryMb: 256, timeoutMs: 30_000 },
        env: { API_URL: 'https://api.example.com', LEVEL: 'info' },
        scaling: { minInstances: 0, maxInstances: 10, concurrency: 5 },
      },
    });
  });

  it('accepts an empty file and a bare "- http" trigger', () => {
    expect(parseFunctionYaml('', {})).toEqual({ config: {} });
    expect(parseFunctionYaml('triggers:\n  - http\n', {}).config.triggers).toEqual([{ type: 'http' }]);
  });

  it('names the file, the line and the field of a wrong memory size', () => {
    const text = DOC.replace('resources: {memory: 256Mi, timeout: 30s}', 'resources:\n  memory: 12 apples\n  timeout: 30s');
    expect(problem(text, { API_URL: 'x' })).toBe("function.yaml:10: resources.memory: '12 apples' is not a memory size (e.g. 256Mi)");
  });

  it('refuses unknown keys, naming the known ones', () => {
    expect(problem('name: a\nresources:\n  memroy: 1Gi\n')).toBe(
      'function.yaml:3: resources.memroy: unknown key (expected one of: memory, timeout, cpu, max_request_bytes, max_response_bytes, max_processes)',
    );
    expect(problem('nmae: a\n')).toMatch(/^function\.yaml:1: nmae: unknown key \(expected one of: name, runtime/);
  });

  it('says which variable is missing and where, unless it has a default', () => {
    expect(problem('environment:\n  API_URL: ${API_URL}\n')).toBe(
      'function.yaml:2: environment.API_URL: ${API_URL} is not set in the environment (export API_URL=..., or write ${API_URL:-default})',
    );
    const m = parseFunctionYaml('environment:\n  API_URL: ${API_URL:-http://localhost}\n  MEM: ${MEM}\nresources: {memory: "${MEM}"}\n', { MEM: '1Gi' });
    expect(m.config.env).toEqual({ API_URL: 'http://localhost', MEM: '1Gi' });
    expect(m.config.resources).toEqual({ memoryMb: 1024 });
  });

  it('points at YAML syntax errors', () => {
    expect(problem('name: a\ntriggers: [http\n')).toMatch(/^function\.yaml:\d: not valid YAML: /);
    expect(problem('name: a\nname: b\n')).toMatch(/^function\.yaml:2: not valid YAML: Map keys must be unique/);
  });

  it('checks ranges and kinds of values with their line', () => {
    expect(problem('resources:\n  timeout: 11m\n')).toBe("function.yaml:2: resources.timeout: '11m' is out of range (10 ms to 10m)");
    expect(parseFunctionYaml('resources:\n  timeout: 10m\n', {}).config.resources).toEqual({ timeoutMs: 600_000 });
    expect(problem('scaling:\n  max_instances: lots\n')).toBe("function.yaml:2: scaling.max_instances: 'lots' is not a whole number from 1 to 1000");
    expect(problem('scaling:\n  min_instances: 5\n  max_instances: 2\n')).toBe('function.yaml:2: scaling.min_instances: 5 is more than the maximum (2)');
    expect(problem('name: Hello_World\n')).toMatch(/^function\.yaml:1: name: 'Hello_World' is not a valid name/);
    expect(problem('runtime: cobol\n')).toMatch(/^function\.yaml:1: runtime: 'cobol' is not a runtime/);
    expect(problem('environment:\n  1BAD: x\n')).toMatch(/^function\.yaml:2: environment\.1BAD: not a valid environment variable name/);
    expect(problem('resources: 256Mi\n')).toBe('function.yaml:1: resources: expected a mapping (key: value)');
  });

  it('refuses what Knative would refuse with its line, before anything is sent', () => {
    expect(problem('environment:\n  LEVEL: info\n  PORT: "9000"\n')).toMatch(
      /^function\.yaml:3: environment\.PORT: PORT is reserved: Knative sets PORT, K_SERVICE/,
    );
    expect(problem('secrets:\n  K_SERVICE: db\n')).toMatch(/^function\.yaml:2: secrets\.K_SERVICE: K_SERVICE is reserved/);
    expect(problem('scaling:\n  min_instances: 11\n')).toBe(
      'function.yaml:2: scaling.min_instances: 11 is more than the default maximum (10); set max_instances too',
    );
    expect(parseFunctionYaml('scaling:\n  min_instances: 11\n  max_instances: 11\n', {}).config.scaling).toEqual({ minInstances: 11, maxInstances: 11 });
  });

  it('reads scaling min and max as min_instances and max_instances', () => {
    expect(parseFunctionYaml('scaling:\n  min: 0\n  max: 100\n  concurrency: 10\n', {}).config.scaling).toEqual({
      minInstances: 0,
      maxInstances: 100,
      concurrency: 10,
    });
    expect(problem('scaling:\n  min: 3\n  max: 2\n')).toBe('function.yaml:2: scaling.min: 3 is more than the maximum (2)');
    expect(problem('scaling:\n  max_instances: 5\n  max: 6\n')).toBe('function.yaml:3: scaling.max: max and max_instances are the same setting; write it once');
  });

  it('reads the scaling metric, its target and a custom metric name', () => {
    expect(parseFunctionYaml('scaling:\n  metric: rps\n  target: 5\n', {}).config.scaling).toEqual({ metric: 'rps', target: 5 });
    expect(parseFunctionYaml('scaling: {metric: custom, target: 2.5, custom_metric: queue_backlog}\n', {}).config.scaling).toEqual({
      metric: 'custom',
      target: 2.5,
      customMetric: 'queue_backlog',
    });
    expect(parseFunctionYaml('resources: {memory: 256Mi}\nscaling: {metric: memory, target: 200}\n', {}).config.scaling).toEqual({
      metric: 'memory',
      target: 200,
    });
    expect(problem('scaling:\n  metric: latency\n')).toBe(
      'function.yaml:2: scaling.metric: latency is not a scaling metric (concurrency, rps, cpu, memory, custom)',
    );
    expect(problem('scaling:\n  metric: custom\n  target: 3\n')).toMatch(
      /^function\.yaml:2: scaling: customMetric is required when scaling\.metric is "custom"/,
    );
    expect(problem('scaling:\n  metric: cpu\n  target: 120\n')).toMatch(/^function\.yaml:2: scaling: target 120 is more than 100/);
    expect(problem('scaling:\n  target: 0\n')).toBe('function.yaml:2: scaling.target: 0 is not a number from 0.01 to 100000');
    expect(problem('scaling: {metric: custom, target: 1, custom_metric: 9lives}\n')).toMatch(
      /scaling\.custom_metric: 9lives is not a Prometheus-style metric name/,
    );
  });

  it('reads 256MB as 256 MiB, and 30s or 300s as milliseconds', () => {
    expect(parseFunctionYaml('resources:\n  memory: 256MB\n  timeout: 30s\n', {}).config.resources).toEqual({ memoryMb: 256, timeoutMs: 30_000 });
    expect(parseFunctionYaml('resources:\n  memory: 512MB\n  timeout: 300s\n', {}).config.resources).toEqual({ memoryMb: 512, timeoutMs: 300_000 });
  });

  it('reads secrets, network, target, idle timeout and sizes', () => {
    const m = parseFunctionYaml(
      'secrets:\n  DB_PASSWORD: db\n  TOKEN: {secret: api, key: token}\nnetwork: {egress: true}\ntarget: knative\n' +
        'scaling: {idle_timeout: 2m}\nresources: {max_request_bytes: 1Mi, cpu: 250m}\n',
      {},
    );
    expect(m.config).toEqual({
      secrets: [
        { env: 'DB_PASSWORD', secret: 'db' },
        { env: 'TOKEN', secret: 'api', key: 'token' },
      ],
      network: { egress: true },
      target: 'knative',
      scaling: { idleTimeoutMs: 120_000 },
      resources: { maxRequestBytes: 1_048_576, cpu: '250m' },
    });
  });

  it('keeps its name rules equal to the platform contracts', () => {
    expect(LABEL_PATTERN.source).toBe(CONTRACT_LABEL.source);
    expect(EVENT_TYPE_PATTERN.source).toBe(CONTRACT_EVENT_TYPE.source);
  });

  it("takes the runtimes' names from their descriptors, and lists them when it refuses one", () => {
    for (const runtime of ['node', 'nodejs20', 'node18.x', 'python', 'python3', 'python3.11']) {
      expect(parseFunctionYaml(DOC.replace('python3.9', runtime), { API_URL: 'http://api' }).runtime).toBe(runtime);
    }
    for (const runtime of ['cobol', 'python2', 'ruby3']) {
      expect(problem(DOC.replace('python3.9', runtime), { API_URL: 'http://api' })).toMatch(
        /is not a runtime the platform runs \(node \(node, nodejs.*python \(python, python3/,
      );
    }
  });
});
