import { connectionAllowed, Endpoint, external, pod } from './support/network-policy';
import { devInfraObjects, FUNCTIONS_NAMESPACE, isKind, mustFind, PLATFORM_APPS, PLATFORM_NAMESPACE, platformObjects } from './support/manifests';

const platform = platformObjects();
const everything = [...platform, ...devInfraObjects()];

describe('RBAC', () => {
  const rbac = everything.filter(({ object }) => object.apiVersion.startsWith('rbac.authorization.k8s.io/'));
  const role = mustFind(platform, 'Role', 'hks-deployer-knative', FUNCTIONS_NAMESPACE);
  const binding = mustFind(platform, 'RoleBinding', 'hks-deployer-knative', FUNCTIONS_NAMESPACE);

  it('has no cluster-wide role or binding', () => {
    expect(rbac.map(({ object }) => object.kind)).not.toContain('ClusterRole');
    expect(rbac.map(({ object }) => object.kind)).not.toContain('ClusterRoleBinding');
  });

  it('grants one Role, in the functions namespace, bound to the deployer ServiceAccount only', () => {
    expect(rbac.map(({ object }) => `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`).sort()).toEqual([
      'Role functions/hks-deployer-knative',
      'RoleBinding functions/hks-deployer-knative',
    ]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'deployer', namespace: PLATFORM_NAMESPACE }]);
    expect(mustFind(platform, 'ServiceAccount', 'deployer', PLATFORM_NAMESPACE)).toBeDefined();
  });

  it('lets the deployer manage serving.knative.dev services and nothing else', () => {
    expect(role.rules).toEqual([
      {
        apiGroups: ['serving.knative.dev'],
        resources: ['services'],
        verbs: expect.arrayContaining(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
      },
    ]);
    const verbs: string[] = role.rules[0].verbs;
    expect(verbs).toHaveLength(7);
    for (const rule of role.rules) {
      expect(rule.resourceNames).toBeUndefined();
      expect(rule.nonResourceURLs).toBeUndefined();
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
    }
  });
});

describe('network policies', () => {
  const policies = everything.map(({ object }) => object).filter((o) => isKind(o, 'NetworkPolicy'));
  const appPod = (name: string) => pod(PLATFORM_NAMESPACE, mustFind(platform, 'Deployment', name, PLATFORM_NAMESPACE).spec.template.metadata.labels);
  const infraPod = (name: string) => pod(PLATFORM_NAMESPACE, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'hks-dev-infra' });
  const elsewhere = pod('default', { app: 'curious' });
  const internet = external('203.0.113.10');
  const functionPod = pod(FUNCTIONS_NAMESPACE, { 'serving.knative.dev/service': 'hello', 'app.kubernetes.io/managed-by': 'hks' });
  const allowed = (from: Endpoint, to: Endpoint, port: number) => connectionAllowed(policies, from, to, port);

  it('deny all ingress and egress in hks-system by default', () => {
    const defaults = policies.filter(
      (p) => p.metadata.namespace === PLATFORM_NAMESPACE && Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
    );
    expect(defaults.flatMap((p) => p.spec.policyTypes).sort()).toEqual(['Egress', 'Ingress']);
  });

  it('deny all ingress in functions by default', () => {
    const defaults = policies.filter((p) => p.metadata.namespace === FUNCTIONS_NAMESPACE && Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress);
    expect(defaults.flatMap((p) => p.spec.policyTypes)).toEqual(['Ingress']);
  });

  it('let anyone reach the gateway on 8080, and nothing else of the platform', () => {
    expect(allowed(elsewhere, appPod('gateway'), 8080)).toBe(true);
    expect(allowed(internet, appPod('gateway'), 8080)).toBe(true);
    for (const app of PLATFORM_APPS.filter((a) => a.name !== 'gateway')) {
      expect([app.name, allowed(elsewhere, appPod(app.name), app.port)]).toEqual([app.name, false]);
      expect([app.name, allowed(internet, appPod(app.name), app.port)]).toEqual([app.name, false]);
    }
  });

  it('allow between the apps exactly gateway->invoker, deployer->invoker and invoker->builder', () => {
    const open: string[] = [];
    for (const from of PLATFORM_APPS) {
      for (const to of PLATFORM_APPS) {
        if (from.name !== to.name && allowed(appPod(from.name), appPod(to.name), to.port)) open.push(`${from.name}->${to.name}:${to.port}`);
      }
    }
    expect(open.sort()).toEqual(['deployer->invoker:8081', 'gateway->invoker:8081', 'invoker->builder:8083']);
  });

  it('let every app reach DNS, Postgres, RabbitMQ and Redis, in the cluster (dev-infra) or outside it', () => {
    const dns = pod('kube-system', { 'k8s-app': 'kube-dns' });
    for (const app of PLATFORM_APPS) {
      const from = appPod(app.name);
      expect([app.name, allowed(from, dns, 53)]).toEqual([app.name, true]);
      for (const [service, port] of [
        ['postgres', 5432],
        ['rabbitmq', 5672],
        ['redis', 6379],
      ] as const) {
        expect([app.name, service, allowed(from, infraPod(service), port)]).toEqual([app.name, service, true]);
        expect([app.name, service, allowed(from, external('10.20.30.40'), port)]).toEqual([app.name, service, true]);
      }
    }
  });

  it('keep the dev databases away from everything but the platform', () => {
    expect(allowed(elsewhere, infraPod('postgres'), 5432)).toBe(false);
    expect(allowed(functionPod, infraPod('postgres'), 5432)).toBe(false);
    expect(allowed(functionPod, infraPod('rabbitmq'), 5672)).toBe(false);
    expect(allowed(functionPod, infraPod('redis'), 6379)).toBe(false);
  });

  it('let the deployer reach the Kubernetes API and the builder the registries, and no other app either', () => {
    const apiServer = external('10.96.0.1');
    // The builder reaches any HTTPS host (npm, PyPI, a hosted registry); without a token the API is no use to it.
    for (const app of PLATFORM_APPS) {
      expect([app.name, allowed(appPod(app.name), apiServer, 443)]).toEqual([app.name, app.name === 'deployer' || app.name === 'builder']);
      expect([app.name, allowed(appPod(app.name), apiServer, 6443)]).toEqual([app.name, app.name === 'deployer']);
      expect([app.name, allowed(appPod(app.name), infraPod('registry'), 5000)]).toEqual([app.name, app.name === 'builder']);
    }
  });

  it('let user functions be reached only by the invoker and by Knative', () => {
    expect(allowed(appPod('invoker'), functionPod, 8012)).toBe(true);
    expect(allowed(appPod('invoker'), pod('kourier-system', { app: '3scale-kourier-gateway' }), 8081)).toBe(true);
    expect(allowed(pod('knative-serving', { app: 'activator' }), functionPod, 8012)).toBe(true);
    expect(allowed(pod('knative-serving', { app: 'autoscaler' }), functionPod, 9090)).toBe(true);
    expect(allowed(pod('kourier-system', { app: '3scale-kourier-gateway' }), functionPod, 8012)).toBe(true);
    expect(allowed(elsewhere, functionPod, 8012)).toBe(false);
    expect(allowed(internet, functionPod, 8012)).toBe(false);
    expect(allowed(pod(FUNCTIONS_NAMESPACE, { app: 'other-function' }), functionPod, 8012)).toBe(false);
    for (const app of PLATFORM_APPS.filter((a) => a.name !== 'invoker')) {
      expect([app.name, allowed(appPod(app.name), functionPod, 8012)]).toEqual([app.name, false]);
    }
  });
});
