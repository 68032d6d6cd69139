import { secretProblems, type SecretObj } from '../../../test-fixtures/fake-kube-api';
import { runtimeSpec } from '../../../test-fixtures/runtime-spec';
import { functionSecret, functionSecretName, registryPullSecret, valuesDigest } from './function-secrets';

describe('the Kubernetes Secrets the knative driver writes', () => {
  it("holds a version's values keyed by variable, labelled with the function, valid against the core/v1 schema", () => {
    const spec = runtimeSpec({ label: 'orders', version: 3 });
    const secret = functionSecret(spec, 'functions', { DB_PASSWORD: 'hunter2', TOKEN: 'tök€n' });
    expect(secret.metadata).toMatchObject({
      name: 'hks-fn-orders-v3',
      namespace: 'functions',
      labels: { 'app.kubernetes.io/managed-by': 'hks', 'hks.dev/function-id': spec.functionId, 'hks.dev/version': '3' },
    });
    expect(secret.type).toBe('Opaque');
    expect(Buffer.from(secret.data!.TOKEN, 'base64').toString('utf8')).toBe('tök€n');
    expect(secretProblems(secret as SecretObj)).toEqual([]);
  });

  it('has a valid name for the longest label', () => {
    const name = functionSecretName('a'.repeat(63), 1000);
    expect(secretProblems(functionSecret(runtimeSpec({ label: 'a'.repeat(63), version: 1000 }), 'functions', { A: 'b' }) as SecretObj)).toEqual([]);
    expect(name.length).toBeLessThanOrEqual(253);
  });

  it('is refused by the schema check when a field is misplaced or a key is invalid (the check has teeth)', () => {
    const secret = functionSecret(runtimeSpec(), 'functions', { A: 'b' }) as SecretObj & Record<string, unknown>;
    expect(secretProblems({ ...secret, stringdata: { A: 'b' } } as SecretObj).join()).toContain('stringdata');
    expect(secretProblems({ ...secret, data: { 'bad key': 'Yg==' } }).join()).toContain('data[bad key]');
  });

  it('gives the pull secret a .dockerconfigjson with the login for the registry', () => {
    const secret = registryPullSecret('functions', 'registry.example.com:5000', 'robot', 'pa:ss');
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson'], 'base64').toString('utf8'));
    expect(config).toEqual({
      auths: { 'registry.example.com:5000': { username: 'robot', password: 'pa:ss', auth: Buffer.from('robot:pa:ss').toString('base64') } },
    });
    expect(secretProblems(secret as SecretObj)).toEqual([]);
  });

  it('digests the values without showing them, changing with any value and with the key', () => {
    const d = valuesDigest({ A: 'x', B: 'y' }, 'uid-1');
    expect(d).toMatch(/^[0-9a-f]{32}$/);
    expect(valuesDigest({ B: 'y', A: 'x' }, 'uid-1')).toBe(d);
    expect(valuesDigest({ A: 'x', B: 'z' }, 'uid-1')).not.toBe(d);
    expect(valuesDigest({ A: 'x', B: 'y' }, 'uid-2')).not.toBe(d);
  });
});
