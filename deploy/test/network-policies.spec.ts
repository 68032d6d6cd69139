/**
 * The NetworkPolicies of deploy/ and deploy/dev-infra, rule by rule: for each, which pod may reach which port, with
 * a case for every allowed path and for the paths next to it that stay closed.
 */
import { connectionAllowed, Endpoint, external, pod, Protocol } from './support/network-policy';
import { devInfraObjects, FUNCTIONS_NAMESPACE, isKind, Kinds, mustFind, PLATFORM_APPS, PLATFORM_NAMESPACE, platformObjects } from './support/manifests';

const platform = platformObjects();
const everything = [...platform, ...devInfraObjects()];
const policies = everything.map(({ object }) => object).filter((o): o is Kinds['NetworkPolicy'] => isKind(o, 'NetworkPolicy'));
const allowed = (from: Endpoint, to: Endpoint, port: number, protocol: Protocol = 'TCP') => connectionAllowed(policies, from, to, port, protocol);

// Pods get addresses of the cluster's pod range: an ipBlock that reached them would show.
let nextIp = 10;
const podIp = () => `10.244.0.${nextIp++}`;
const appPods = Object.fromEntries(
  PLATFORM_APPS.map((a) => [
    a.name,
    pod(PLATFORM_NAMESPACE, mustFind(platform, 'Deployment', a.name, PLATFORM_NAMESPACE).spec.template.metadata.labels, podIp()),
  ]),
);
const appPod = (name: string) => appPods[name];
const infraPod = (name: string) => pod(PLATFORM_NAMESPACE, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'hks-dev-infra' }, podIp());
const postgres = infraPod('postgres');
const rabbitmq = infraPod('rabbitmq');
const redis = infraPod('redis');
const registry = infraPod('registry');
const dns = pod('kube-system', { 'k8s-app': 'kube-dns' }, '10.96.0.10');
const elsewhere = pod('default', { app: 'curious' }, podIp());
const functionPod = pod(FUNCTIONS_NAMESPACE, { 'serving.knative.dev/service': 'hello', 'app.kubernetes.io/managed-by': 'hks' }, podIp());
const otherFunction = pod(FUNCTIONS_NAMESPACE, { 'serving.knative.dev/service': 'other', 'app.kubernetes.io/managed-by': 'hks' }, podIp());
const internet = external('203.0.113.10');
const metadata = external('169.254.169.254');
const privateAddresses = ['10.20.30.40', '172.20.0.5', '192.168.1.20', '100.64.3.4', '127.0.0.1'].map(external);
const appNames = PLATFORM_APPS.map((a) => a.name);
/** Which apps may open the connection, by name. */
const appsAllowed = (to: Endpoint, port: number) => appNames.filter((name) => allowed(appPod(name), to, port));

describe('the NetworkPolicy evaluator', () => {
  const policy = (spec: object): Kinds['NetworkPolicy'] =>
    ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'a' }, spec }) as never;
  const a = pod('a', { app: 'x' }, '10.0.0.1');
  const b = pod('b', { app: 'y' }, '10.0.0.2');

  it('leaves a pod no policy selects open, and closes it to what no rule allows once one does', () => {
    expect(connectionAllowed([], a, b, 80)).toBe(true);
    expect(connectionAllowed([policy({ podSelector: {}, policyTypes: ['Egress'] })], a, b, 80)).toBe(false);
    expect(connectionAllowed([policy({ podSelector: { matchLabels: { app: 'z' } }, policyTypes: ['Egress'] })], a, b, 80)).toBe(true);
  });

  it('applies ipBlock except lists, ports and protocols', () => {
    const p = [
      policy({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443 }] }],
      }),
    ];
    expect(connectionAllowed(p, a, external('8.8.8.8'), 443)).toBe(true);
    expect(connectionAllowed(p, a, external('8.8.8.8'), 80)).toBe(false);
    expect(connectionAllowed(p, a, external('8.8.8.8'), 443, 'UDP')).toBe(false);
    expect(connectionAllowed(p, a, external('10.1.2.3'), 443)).toBe(false);
    expect(connectionAllowed(p, a, b, 443)).toBe(false);
  });

  it('reads a peer without a namespaceSelector as the policy namespace, and both selectors of a peer together', () => {
    const sameNs = [policy({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'y' } } }] }] })];
    expect(connectionAllowed(sameNs, a, pod('a', { app: 'y' }), 80)).toBe(true);
    expect(connectionAllowed(sameNs, a, b, 80)).toBe(false);
    const both = [
      policy({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } }, podSelector: { matchLabels: { app: 'y' } } }] }],
      }),
    ];
    expect(connectionAllowed(both, a, b, 80)).toBe(true);
    expect(connectionAllowed(both, a, pod('b', { app: 'z' }), 80)).toBe(false);
  });
});

describe('hks-system: default-deny', () => {
  it('denies all ingress and egress of every pod in hks-system', () => {
    const p = mustFind(platform, 'NetworkPolicy', 'default-deny', PLATFORM_NAMESPACE);
    expect(p.spec.podSelector).toEqual({});
    expect(p.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(p.spec.ingress).toBeUndefined();
    expect(p.spec.egress).toBeUndefined();
  });
});

describe('hks-system: allow-dns', () => {
  it('lets every pod of hks-system reach the cluster DNS on 53/UDP and 53/TCP, and no other DNS server', () => {
    for (const from of [...Object.values(appPods), postgres, rabbitmq, redis, registry]) {
      expect(allowed(from, dns, 53, 'UDP')).toBe(true);
      expect(allowed(from, dns, 53, 'TCP')).toBe(true);
      expect(allowed(from, external('8.8.8.8'), 53, 'UDP')).toBe(false);
    }
  });
});

describe('hks-system: rabbitmq-clients and dev-rabbitmq', () => {
  it('let every app reach the RabbitMQ pods on 5672', () => {
    expect(appsAllowed(rabbitmq, 5672)).toEqual(appNames);
  });

  it('give no app port 5672 at any other address, and nobody outside the platform the RabbitMQ pods', () => {
    for (const to of [internet, ...privateAddresses]) expect(appsAllowed(to, 5672)).toEqual([]);
    for (const from of [elsewhere, functionPod, postgres]) expect(allowed(from, rabbitmq, 5672)).toBe(false);
    expect(appsAllowed(rabbitmq, 15672)).toEqual([]);
  });
});

describe('hks-system: postgres-clients and dev-postgres', () => {
  it('let exactly the apps with a schema reach the Postgres pods on 5432', () => {
    expect(appsAllowed(postgres, 5432)).toEqual(['function-registry', 'builder', 'deployer', 'event-store']);
  });

  it('give no app port 5432 at any other address, and nobody outside the platform the Postgres pods', () => {
    for (const to of [internet, ...privateAddresses]) expect(appsAllowed(to, 5432)).toEqual([]);
    for (const from of [elsewhere, functionPod, redis]) expect(allowed(from, postgres, 5432)).toBe(false);
  });
});

describe('hks-system: redis-clients and dev-redis', () => {
  it('let exactly the apps with BullMQ queues, and the gateway (its shared rate limit), reach the Redis pods on 6379', () => {
    expect(appsAllowed(redis, 6379)).toEqual(['gateway', 'function-registry', 'builder', 'deployer']);
  });

  it('give no app port 6379 at any other address, and nobody outside the platform the Redis pods', () => {
    for (const to of [internet, ...privateAddresses]) expect(appsAllowed(to, 6379)).toEqual([]);
    for (const from of [elsewhere, functionPod]) expect(allowed(from, redis, 6379)).toBe(false);
  });
});

describe('hks-system: gateway', () => {
  it('lets anyone reach the gateway on 8080, and no one the other apps from outside the platform', () => {
    expect(allowed(elsewhere, appPod('gateway'), 8080)).toBe(true);
    expect(allowed(internet, appPod('gateway'), 8080)).toBe(true);
    expect(allowed(functionPod, appPod('gateway'), 8080)).toBe(true);
    expect(allowed(elsewhere, appPod('gateway'), 8081)).toBe(false);
    for (const app of PLATFORM_APPS.filter((a) => a.name !== 'gateway')) {
      expect([app.name, allowed(elsewhere, appPod(app.name), app.port)]).toEqual([app.name, false]);
      expect([app.name, allowed(internet, appPod(app.name), app.port)]).toEqual([app.name, false]);
      expect([app.name, allowed(functionPod, appPod(app.name), app.port)]).toEqual([app.name, false]);
    }
  });

  it('lets the gateway out to the invoker only (besides DNS and RabbitMQ)', () => {
    expect(allowed(appPod('gateway'), appPod('invoker'), 8081)).toBe(true);
    for (const to of [internet, metadata, ...privateAddresses]) for (const port of [80, 443]) expect(allowed(appPod('gateway'), to, port)).toBe(false);
  });
});

describe('hks-system: the paths between the apps (gateway, invoker, builder, deployer policies)', () => {
  it('are exactly gateway->invoker, deployer->invoker and invoker->builder', () => {
    const open: string[] = [];
    for (const from of PLATFORM_APPS) {
      for (const to of PLATFORM_APPS) {
        if (from.name !== to.name && allowed(appPod(from.name), appPod(to.name), to.port)) open.push(`${from.name}->${to.name}:${to.port}`);
      }
    }
    expect(open.sort()).toEqual(['deployer->invoker:8081', 'gateway->invoker:8081', 'invoker->builder:8083']);
  });
});

describe('hks-system: invoker', () => {
  it('lets the invoker reach the functions and the Knative ingress and activator, on any port', () => {
    expect(allowed(appPod('invoker'), functionPod, 8012)).toBe(true);
    expect(allowed(appPod('invoker'), pod('kourier-system', { app: '3scale-kourier-gateway' }, podIp()), 8081)).toBe(true);
    expect(allowed(appPod('invoker'), pod('knative-serving', { app: 'activator' }, podIp()), 8012)).toBe(true);
    expect(allowed(appPod('invoker'), pod('istio-system', { istio: 'ingressgateway' }, podIp()), 8080)).toBe(true);
  });

  it('keeps the invoker from other namespaces and from every address', () => {
    expect(allowed(appPod('invoker'), elsewhere, 8080)).toBe(false);
    for (const to of [internet, metadata, ...privateAddresses]) for (const port of [80, 443, 8080]) expect(allowed(appPod('invoker'), to, port)).toBe(false);
  });
});

describe('hks-system: builder', () => {
  const builder = appPod('builder');

  it('lets the builder push to the registry pods on 5000, and no other app', () => {
    expect(appsAllowed(registry, 5000)).toEqual(['builder']);
    for (const from of [elsewhere, functionPod]) expect(allowed(from, registry, 5000)).toBe(false);
  });

  it('lets the builder reach public addresses on 443 and 80 only (package registries, a hosted OCI registry)', () => {
    for (const ip of ['203.0.113.10', '104.16.0.35', '151.101.0.223']) {
      expect(allowed(builder, external(ip), 443)).toBe(true);
      expect(allowed(builder, external(ip), 80)).toBe(true);
      for (const port of [22, 25, 5000, 5432, 6379, 8080]) expect([ip, port, allowed(builder, external(ip), port)]).toEqual([ip, port, false]);
    }
  });

  it('keeps the builder from private ranges, the metadata address and other pods, on 443 and 80 too', () => {
    for (const to of [metadata, external('169.254.1.1'), ...privateAddresses, elsewhere, functionPod]) {
      for (const port of [80, 443]) expect(allowed(builder, to, port)).toBe(false);
    }
  });

  it('lets only the invoker fetch bundles from the builder', () => {
    expect(allowed(appPod('invoker'), builder, 8083)).toBe(true);
    expect(['gateway', 'function-registry', 'deployer', 'event-store'].filter((n) => allowed(appPod(n), builder, 8083))).toEqual([]);
  });
});

describe('hks-system: deployer', () => {
  it('lets the deployer reach the Kubernetes API at any non-link-local address on 443 and 6443', () => {
    for (const ip of ['10.96.0.1', '172.18.0.2', '192.168.49.2', '203.0.113.7']) {
      expect(allowed(appPod('deployer'), external(ip), 443)).toBe(true);
      expect(allowed(appPod('deployer'), external(ip), 6443)).toBe(true);
      expect(allowed(appPod('deployer'), external(ip), 80)).toBe(false);
    }
  });

  it('gives 443 and 6443 at an address to the deployer (and 443 to the builder) only', () => {
    expect(appsAllowed(external('203.0.113.7'), 443)).toEqual(['builder', 'deployer']);
    expect(appsAllowed(external('10.96.0.1'), 443)).toEqual(['deployer']);
    expect(appsAllowed(external('10.96.0.1'), 6443)).toEqual(['deployer']);
  });
});

describe('no pod reaches the cloud metadata address', () => {
  it('from hks-system or functions, on any port', () => {
    const sources = [...Object.values(appPods), postgres, rabbitmq, redis, registry, functionPod];
    for (const from of sources) {
      for (const port of [80, 443, 53, 8080, 6443]) {
        expect([from.labels['app.kubernetes.io/name'] ?? 'function', port, allowed(from, metadata, port)]).toEqual([
          from.labels['app.kubernetes.io/name'] ?? 'function',
          port,
          false,
        ]);
      }
    }
  });
});

describe('functions: default-deny and allow-invoker-and-knative', () => {
  it('denies all ingress and egress of every pod in functions by default', () => {
    const p = mustFind(platform, 'NetworkPolicy', 'default-deny', FUNCTIONS_NAMESPACE);
    expect(p.spec.podSelector).toEqual({});
    expect(p.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(p.spec.ingress).toBeUndefined();
    expect(p.spec.egress).toBeUndefined();
  });

  it('lets the invoker and Knative reach the functions, and nobody else', () => {
    expect(allowed(appPod('invoker'), functionPod, 8012)).toBe(true);
    expect(allowed(pod('knative-serving', { app: 'activator' }), functionPod, 8012)).toBe(true);
    expect(allowed(pod('knative-serving', { app: 'autoscaler' }), functionPod, 9090)).toBe(true);
    expect(allowed(pod('kourier-system', { app: '3scale-kourier-gateway' }), functionPod, 8012)).toBe(true);
    expect(allowed(elsewhere, functionPod, 8012)).toBe(false);
    expect(allowed(internet, functionPod, 8012)).toBe(false);
    expect(allowed(otherFunction, functionPod, 8012)).toBe(false);
    expect(allowed(pod(FUNCTIONS_NAMESPACE, { app: 'invoker' }), functionPod, 8012)).toBe(false);
    for (const app of PLATFORM_APPS.filter((a) => a.name !== 'invoker')) {
      expect([app.name, allowed(appPod(app.name), functionPod, 8012)]).toEqual([app.name, false]);
    }
  });
});

describe('functions: function-egress', () => {
  it('lets functions resolve names with the cluster DNS', () => {
    expect(allowed(functionPod, dns, 53, 'UDP')).toBe(true);
    expect(allowed(functionPod, dns, 53, 'TCP')).toBe(true);
  });

  it("lets functions call the platform's public API on the gateway, and no other app", () => {
    expect(allowed(functionPod, appPod('gateway'), 8080)).toBe(true);
    for (const app of PLATFORM_APPS.filter((a) => a.name !== 'gateway')) {
      expect([app.name, allowed(functionPod, appPod(app.name), app.port)]).toEqual([app.name, false]);
    }
  });

  it('lets functions reach public addresses on any port', () => {
    for (const port of [80, 443, 5432, 8443]) expect(allowed(functionPod, internet, port)).toBe(true);
  });

  it("keeps functions from private ranges, the platform's infrastructure, other functions and other namespaces", () => {
    for (const to of [...privateAddresses, external('169.254.10.10')]) for (const port of [80, 443, 5432]) expect(allowed(functionPod, to, port)).toBe(false);
    expect(allowed(functionPod, postgres, 5432)).toBe(false);
    expect(allowed(functionPod, rabbitmq, 5672)).toBe(false);
    expect(allowed(functionPod, redis, 6379)).toBe(false);
    expect(allowed(functionPod, registry, 5000)).toBe(false);
    expect(allowed(functionPod, otherFunction, 8012)).toBe(false);
    expect(allowed(functionPod, elsewhere, 8080)).toBe(false);
  });
});
