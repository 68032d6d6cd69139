import { randomUUID } from 'crypto';
import { ValidationError } from '@platform/contracts';
import { RUNTIMES } from '@platform/runtimes';
import { normalizeConfig, parseOrder, poolKey, tagUrl } from './deployment-request';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const spec = (over: Record<string, unknown> = {}) => ({
  functionId: 'f-1',
  label: 'hello',
  version: 2,
  runtime: 'node',
  family: 'node',
  template: 'node',
  entrypoint: 'handler.*',
  bundleDigest: DIGEST,
  image: null,
  config: {},
  ...over,
});

describe('deployment orders (PUT /deployments/:functionId)', () => {
  it('accepts the deployer’s body and fills every limit the config leaves out', () => {
    const order = parseOrder('f-1', { deploymentId: randomUUID(), spec: spec(), env: { A: '1' } });
    expect(order.env).toEqual({ A: '1' });
    expect(order.spec.config.resources).toMatchObject({ memoryMb: 128, timeoutMs: 30000, maxProcesses: 64 });
    expect(order.spec.config.scaling).toMatchObject({ minInstances: 0, maxInstances: 10, concurrency: 64, queueSize: 100 });
  });

  it('gives a function that sets no concurrency its runtime’s default, and keeps the value a function set', () => {
    expect(normalizeConfig({}, 'node').scaling).toMatchObject({ concurrency: 64 });
    expect(normalizeConfig({ resources: { memoryMb: 1024 } }, 'node').scaling.concurrency).toBe(100);
    expect(normalizeConfig({ resources: { memoryMb: 32 } }, 'node').scaling.concurrency).toBe(16);
    expect(normalizeConfig({}, 'python').scaling).toMatchObject({ concurrency: 1, asyncConcurrency: 64 });
    expect(normalizeConfig({ scaling: { concurrency: 3 } }, 'node').scaling.concurrency).toBe(3);
    const py = normalizeConfig({ scaling: { concurrency: 2 } }, 'python').scaling;
    expect(py.concurrency).toBe(2);
    expect(py.asyncConcurrency).toBeUndefined();
    // What the registry's effective config says for Python left to the default.
    expect(normalizeConfig({ scaling: { concurrency: 1, asyncConcurrency: 64 } }, 'python').scaling).toMatchObject({ concurrency: 1, asyncConcurrency: 64 });
  });

  it('accepts the label in the path', () => {
    expect(parseOrder('hello', { deploymentId: 'd', spec: spec() }).spec.functionId).toBe('f-1');
  });

  it('names every problem of a bad body', () => {
    let error: ValidationError | undefined;
    try {
      parseOrder('other', { deploymentId: '', spec: spec({ family: 'ruby', entrypoint: 'nodot', bundleDigest: 'md5:x' }), env: { A: 1 } });
    } catch (err) {
      error = err as ValidationError;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.details).toEqual([
      'deploymentId must be a non-empty string',
      `spec.family must be one of ${RUNTIMES.map((r) => `"${r.name}"`).join(', ')}`,
      'spec.entrypoint must look like "<module>.<function>", e.g. "handler.handle" or "handler.*"',
      'spec.bundleDigest must be a sha256 digest (sha256:<64 hex digits>)',
      'spec.functionId (f-1) does not match the function in the path (other)',
      'env must be an object of string values',
    ]);
  });

  it('needs a URL for a Knative deployment but no bundle', () => {
    expect(() => parseOrder('f-1', { deploymentId: 'd', spec: spec({ bundleDigest: '' }) }, 'knative', null)).toThrow(/a knative deployment needs its url/);
    expect(parseOrder('f-1', { deploymentId: 'd', spec: spec({ bundleDigest: '' }) }, 'knative', 'http://hello.functions.example').url).toBe(
      'http://hello.functions.example',
    );
  });

  it('never lets minInstances exceed maxInstances, nor limits fall below their minimum', () => {
    const c = normalizeConfig({ scaling: { minInstances: 5, maxInstances: 2 }, resources: { memoryMb: 1, timeoutMs: -3 } }, 'node');
    expect(c.scaling).toMatchObject({ minInstances: 2, maxInstances: 2 });
    expect(c.resources).toMatchObject({ memoryMb: 128, timeoutMs: 30000 });
  });

  it('takes the other versions of a deployment and its routing, refusing a routing that names a version it does not run', () => {
    const deploymentId = randomUUID();
    const order = parseOrder('f-1', {
      deploymentId,
      spec: spec(),
      env: {},
      versions: [{ spec: spec({ version: 1, bundleDigest: `sha256:${'b'.repeat(64)}` }), env: { A: '1' } }],
      routing: {
        aliases: { stable: 1 },
        splits: [
          { version: 1, percent: 90 },
          { version: 2, percent: 10 },
        ],
        sticky: true,
        revision: 4,
      },
    });
    expect(order.versions).toHaveLength(1);
    expect(order.versions[0]).toMatchObject({ deploymentId, env: { A: '1' }, spec: { version: 1 } });
    expect(order.routing).toEqual({
      aliases: { stable: 1 },
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
      sticky: true,
      revision: 4,
    });
    expect(() => parseOrder('f-1', { deploymentId, spec: spec(), routing: { aliases: { stable: 7 } } })).toThrow(
      'routing names version 7, which the order does not run',
    );
    expect(() => parseOrder('f-1', { deploymentId, spec: spec(), routing: { splits: [{ version: 2, percent: 60 }] } })).toThrow(
      'routing.splits must be whole percentages summing to 100 (they sum to 60)',
    );
    expect(() => parseOrder('f-1', { deploymentId, spec: spec(), versions: [{ spec: spec() }] })).toThrow('versions[0]: version 2 is named twice');
  });

  it("sends a Knative version to its tag's host (Knative's default tag template {tag}-{service})", () => {
    expect(tagUrl('http://shop.functions.example.com', 2)).toBe('http://v2-shop.functions.example.com');
    // The cluster-local address the deployer reports (status.address.url): Knative gives each tag the Kubernetes Service {tag}-{service}.
    expect(tagUrl('http://shop.functions.svc.cluster.local', 3)).toBe('http://v3-shop.functions.svc.cluster.local');
    const order = parseOrder(
      'f-1',
      { deploymentId: randomUUID(), spec: spec(), versions: [{ spec: spec({ version: 1 }) }] },
      'knative',
      'http://hello.functions.svc',
    );
    expect(order.versions[0].url).toBe('http://v1-hello.functions.svc');
  });
});

describe('pool sharing (poolKey)', () => {
  const order = (runtimeVersion?: string) =>
    parseOrder('f-1', {
      deploymentId: randomUUID(),
      spec: spec({ runtime: 'python3.9', family: 'python', template: 'python', ...(runtimeVersion ? { runtimeVersion } : {}) }),
    });

  it('gives orders of the same version, bundle and runtime version one pool', () => {
    expect(poolKey(order('3.9.18'))).toBe(poolKey(order('3.9.18')));
  });

  it('never lets two runtime versions of the same family share a pool or its workers', () => {
    expect(poolKey(order('3.9.18'))).not.toBe(poolKey(order('3.11.7')));
    expect(poolKey(order('3.9.18'))).not.toBe(poolKey(order()));
  });
});
