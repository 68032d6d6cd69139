import { containerEnv, secretValues } from './support/pod-env';
import { devInfraObjects, isKind, Kinds, mustFind, PLATFORM_APPS, PLATFORM_NAMESPACE, platformObjects, quantity, selectorMatches } from './support/manifests';
import { appSettingsSchema, documentedUnsetSettings, loadAppSettings, settingsWithoutDefault } from './support/settings';
import { credentialsUsed } from './support/credentials';

const objects = platformObjects();
const ns = PLATFORM_NAMESPACE;

type Container = Kinds['Deployment']['spec']['template']['spec']['containers'][number];

const podSpec = (app: string) => mustFind(objects, 'Deployment', app, ns).spec.template.spec;
function mainContainer(app: string): Container {
  const container = podSpec(app).containers.find((c) => c.name === app);
  if (!container) throw new Error(`the ${app} Deployment has no container named ${app}`);
  return container;
}
const envOf = (app: string) => containerEnv(objects, ns, mainContainer(app));

/** The containerPort a probe or Service targetPort names (by number or by port name). */
function resolvePort(container: Container, port: number | string): number | undefined {
  const ports: { name?: string; containerPort: number }[] = container.ports ?? [];
  return typeof port === 'number' ? ports.find((p) => p.containerPort === port)?.containerPort : ports.find((p) => p.name === port)?.containerPort;
}

describe.each(PLATFORM_APPS.map((a) => [a.name, a] as const))('the %s app', (name, app) => {
  const deployment = () => mustFind(objects, 'Deployment', name, ns);

  it('has a ServiceAccount, a Deployment, a Service and a HorizontalPodAutoscaler of its name in hks-system', () => {
    for (const kind of ['ServiceAccount', 'Deployment', 'Service', 'HorizontalPodAutoscaler']) {
      expect(mustFind(objects, kind, name, ns).metadata.labels).toMatchObject({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'hks' });
    }
  });

  it('selects exactly its own pods from the Deployment and the Service', () => {
    const labels = deployment().spec.template.metadata.labels;
    expect(selectorMatches(deployment().spec.selector, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: mustFind(objects, 'Service', name, ns).spec.selector }, labels)).toBe(true);
    for (const other of PLATFORM_APPS.filter((a) => a.name !== name)) {
      const otherLabels = mustFind(objects, 'Deployment', other.name, ns).spec.template.metadata.labels;
      expect([other.name, selectorMatches(deployment().spec.selector, otherLabels)]).toEqual([other.name, false]);
      expect([other.name, selectorMatches({ matchLabels: mustFind(objects, 'Service', name, ns).spec.selector }, otherLabels)]).toEqual([other.name, false]);
    }
  });

  it(`runs the platform image with "${name}" as the argument, under its own ServiceAccount`, () => {
    const container = mainContainer(name);
    expect(container.image).toMatch(/^hks\/platform:/);
    expect(container.args).toEqual([name]);
    expect(container.command).toBeUndefined();
    expect(podSpec(name).serviceAccountName).toBe(name);
  });

  it(`listens on port ${app.port} and its Service forwards ${app.port} to it`, () => {
    const container = mainContainer(name);
    expect(container.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([app.port]);
    expect(envOf(name)[app.portEnv]).toBe(String(app.port));
    const service = mustFind(objects, 'Service', name, ns);
    expect(service.spec.ports).toHaveLength(1);
    expect(service.spec.ports[0].port).toBe(app.port);
    expect(resolvePort(container, service.spec.ports[0].targetPort)).toBe(app.port);
  });

  it('is ready when /readyz answers and alive while /healthz answers, on its containerPort', () => {
    const container = mainContainer(name);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(Boolean)) {
      expect(resolvePort(container, probe.httpGet.port)).toBe(app.port);
    }
  });

  it('requests and limits CPU and memory, requests within limits', () => {
    const { requests, limits } = mainContainer(name).resources;
    for (const resource of ['cpu', 'memory']) {
      expect(quantity(requests[resource])).toBeGreaterThan(0);
      expect(quantity(requests[resource])).toBeLessThanOrEqual(quantity(limits[resource]));
    }
  });

  it('scales on CPU between its minimum and maximum replicas with an autoscaling/v2 HPA', () => {
    const hpa = mustFind(objects, 'HorizontalPodAutoscaler', name, ns);
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
    expect(hpa.spec.metrics).toContainEqual({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } },
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(deployment().spec.replicas).toBe(hpa.spec.minReplicas);
  });

  it('runs as a non-root user without capabilities, privilege escalation or a writable root filesystem', () => {
    const pod = podSpec(name);
    const container = mainContainer(name);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.securityContext.privileged ?? false).toBe(false);
    expect(container.securityContext.capabilities.add).toBeUndefined();
  });

  it('has writable volumes where it writes: HKS_DATA_DIR and /tmp', () => {
    const mounts: string[] = mainContainer(name).volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mounts).toContain(envOf(name).HKS_DATA_DIR);
    expect(mounts).toContain('/tmp');
  });

  it('takes its settings from the ConfigMap, no Secret as a whole, and listens on all interfaces', () => {
    const sources = mainContainer(name).envFrom;
    expect(sources).toContainEqual({ configMapRef: { name: 'hks-platform-config' } });
    expect(sources.filter((s: { secretRef?: unknown }) => s.secretRef)).toEqual([]);
    expect(envOf(name).HOST).toBe('0.0.0.0');
  });

  it('gets exactly the credentials it uses, key by key from the Secret', () => {
    const secretKeys = Object.keys(secretValues(mustFind(objects, 'Secret', 'hks-platform-secrets', ns)));
    const refs = mainContainer(name)
      .env.filter((e) => e.valueFrom?.secretKeyRef)
      .map((e) => ({ name: e.name, secret: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key }));
    expect(refs.every((r) => r.secret === 'hks-platform-secrets' && r.name === r.key)).toBe(true);
    expect(refs.map((r) => r.key).sort()).toEqual(credentialsUsed(name, secretKeys).sort());
    // And no credential reaches it another way (a literal value or the ConfigMap).
    const env = envOf(name);
    const withValue = Object.keys(env).filter((k) => secretKeys.includes(k));
    expect(withValue.sort()).toEqual(refs.map((r) => r.key).sort());
  });

  it("gets the services' internal credential from the Secret, so every replica of every app presents and checks the same one", () => {
    expect(envOf(name).HKS_INTERNAL_TOKEN).toBe(secretValues(mustFind(objects, 'Secret', 'hks-platform-secrets', ns)).HKS_INTERNAL_TOKEN);
    expect(envOf(name).HKS_INTERNAL_TOKEN).toBeTruthy();
  });

  it('starts with valid settings: every value passes its schema and the port is the containerPort', () => {
    const settings = loadAppSettings(name, envOf(name));
    expect(settings[app.portEnv]).toBe(app.port);
  });

  it("drains within Kubernetes' grace period: SHUTDOWN_GRACE_MS (and the app's own drain settings) end before terminationGracePeriodSeconds", () => {
    const graceMs = podSpec(name).terminationGracePeriodSeconds * 1000;
    expect(graceMs).toBe(30_000);
    const settings = loadAppSettings(name, envOf(name));
    // A few seconds spare: the kubelet's SIGKILL comes at the grace period, counted from before SIGTERM reaches the app.
    expect(settings.SHUTDOWN_GRACE_MS as number).toBeLessThanOrEqual(graceMs - 5_000);
    for (const [key, value] of Object.entries(settings).filter(([k]) => k !== 'SHUTDOWN_GRACE_MS' && /SHUTDOWN_GRACE_MS$/.test(k))) {
      expect([key, value as number]).toEqual([key, expect.any(Number)]);
      expect(value as number).toBeLessThanOrEqual(settings.SHUTDOWN_GRACE_MS as number);
    }
  });

  it('is given every setting that has no default, unless the README says why it stays unset', () => {
    const env = envOf(name);
    const unset = documentedUnsetSettings('Settings left unset on purpose');
    const missing = settingsWithoutDefault(appSettingsSchema(name)).filter((key) => !(key in env) && !unset.has(key));
    expect(missing).toEqual([]);
  });

  it('keeps a replica up through voluntary disruptions when it runs more than one', () => {
    const hpa = mustFind(objects, 'HorizontalPodAutoscaler', name, ns);
    const pdb = objects
      .map(({ object }) => object)
      .filter((object) => isKind(object, 'PodDisruptionBudget'))
      .find((object) => selectorMatches(object.spec.selector, deployment().spec.template.metadata.labels));
    if (hpa.spec.minReplicas < 2) {
      // A budget on a single replica would block node drains outright.
      expect(pdb).toBeUndefined();
      return;
    }
    expect(pdb?.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb?.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
  });

  it('mounts a Kubernetes API token only if it is the deployer', () => {
    const mounts = name === 'deployer';
    expect(podSpec(name).automountServiceAccountToken).toBe(mounts);
    expect(mustFind(objects, 'ServiceAccount', name, ns).automountServiceAccountToken).toBe(mounts);
  });
});

describe('cluster-mode configuration', () => {
  const config = mustFind(objects, 'ConfigMap', 'hks-platform-config', ns).data as Record<string, string>;
  const secret = secretValues(mustFind(objects, 'Secret', 'hks-platform-secrets', ns));
  const serviceUrl = (app: string, port: number) => `http://${app}.${ns}.svc.cluster.local:${port}`;

  it('deploys functions to Knative in the functions namespace by default', () => {
    expect(config.DEPLOYER_DEFAULT_DRIVER).toBe('knative');
    expect(config.KNATIVE_NAMESPACE).toBe('functions');
  });

  it('points INVOKER_URL and BUILDER_URL at the invoker and builder Services', () => {
    expect(config.INVOKER_URL).toBe(serviceUrl('invoker', 8081));
    expect(config.BUILDER_URL).toBe(serviceUrl('builder', 8083));
    expect(mustFind(objects, 'Service', 'invoker', ns).spec.ports[0].port).toBe(8081);
    expect(mustFind(objects, 'Service', 'builder', ns).spec.ports[0].port).toBe(8083);
  });

  it('keeps credentials out of the ConfigMap and connection URLs in the Secret', () => {
    for (const value of Object.values(config)) expect(value).not.toMatch(/:\/\/[^/@]*:[^/@]*@/);
    expect(Object.keys(secret)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'AMQP_URL', 'REDIS_URL', 'REGISTRY_SECRETS_KEY', 'HKS_API_KEYS', 'HKS_INTERNAL_TOKEN']),
    );
    const overlap = Object.keys(secret).filter((k) => k in config);
    expect(overlap).toEqual([]);
  });

  it('gives each credential only to the apps that use it', () => {
    const keys = Object.keys(secret);
    const holders = (key: string) =>
      PLATFORM_APPS.map((a) => a.name).filter((app) => mainContainer(app).env.some((e) => e.valueFrom?.secretKeyRef?.key === key));
    expect(Object.fromEntries(keys.map((k) => [k, holders(k)]))).toEqual({
      DATABASE_URL: ['function-registry', 'builder', 'deployer', 'event-store'],
      AMQP_URL: PLATFORM_APPS.map((a) => a.name),
      REDIS_URL: ['gateway', 'function-registry', 'builder', 'deployer'],
      REGISTRY_SECRETS_KEY: ['function-registry'],
      HKS_INTERNAL_TOKEN: PLATFORM_APPS.map((a) => a.name),
      HKS_API_KEYS: ['gateway'],
      HKS_OCI_USERNAME: ['invoker', 'builder', 'deployer'],
      HKS_OCI_PASSWORD: ['invoker', 'builder', 'deployer'],
    });
  });

  it('ships the Secret as a template: each credential is a CHANGE-ME placeholder or empty', () => {
    const credentials = ['DATABASE_URL', 'AMQP_URL', 'REDIS_URL', 'REGISTRY_SECRETS_KEY', 'HKS_API_KEYS', 'HKS_INTERNAL_TOKEN'];
    for (const key of credentials) expect([key, secret[key]]).toEqual([key, expect.stringContaining('CHANGE-ME')]);
    const others = Object.entries(secret).filter(([k]) => !credentials.includes(k));
    for (const [key, value] of others) expect([key, value]).toEqual([key, expect.stringMatching(/^$|CHANGE-ME/)]);
  });

  it("matches deploy/dev-infra's services and credentials, so the two work together as shipped", () => {
    const infra = devInfraObjects();
    const creds = secretValues(mustFind(infra, 'Secret', 'dev-infra-credentials', ns));
    const db = new URL(secret.DATABASE_URL);
    expect([db.hostname, db.port, db.username, db.password, db.pathname]).toEqual([
      `postgres.${ns}.svc.cluster.local`,
      '5432',
      creds.POSTGRES_USER,
      creds.POSTGRES_PASSWORD,
      `/${creds.POSTGRES_DB}`,
    ]);
    const amqp = new URL(secret.AMQP_URL);
    expect([amqp.hostname, amqp.port, amqp.username, amqp.password]).toEqual([
      `rabbitmq.${ns}.svc.cluster.local`,
      '5672',
      creds.RABBITMQ_DEFAULT_USER,
      creds.RABBITMQ_DEFAULT_PASS,
    ]);
    const redis = new URL(secret.REDIS_URL);
    expect([redis.hostname, redis.port, redis.password]).toEqual([`redis.${ns}.svc.cluster.local`, '6379', creds.REDIS_PASSWORD]);
    expect(config.HKS_OCI_REGISTRY).toBe(`registry.${ns}.svc.cluster.local:5000`);
    for (const [service, port] of [
      ['postgres', 5432],
      ['rabbitmq', 5672],
      ['redis', 6379],
      ['registry', 5000],
    ] as const) {
      expect(mustFind(infra, 'Service', service, ns).spec.ports[0].port).toBe(port);
    }
  });

  it('keeps no sandboxed workers warm in the invoker, whose pod cannot create sandboxes without local-sandbox', () => {
    const env = containerEnv(objects, ns, mainContainer('invoker'));
    expect(loadAppSettings('invoker', env)).toMatchObject({ INVOKER_PREWARM: 0, INVOKER_PREWARM_MAX: 0, INVOKER_CGROUPS: 'optional' });
  });

  it("keeps the builder's bundles in a volume of its own pod, below HKS_DATA_DIR/artifacts: replicas share images through the OCI registry", () => {
    const builder = mainContainer('builder');
    const mount = builder.volumeMounts.find((m) => m.mountPath === `${config.HKS_DATA_DIR}/artifacts`);
    const volume = podSpec('builder').volumes.find((v) => v.name === mount?.name);
    expect(volume?.emptyDir).toBeDefined();
    expect(volume?.persistentVolumeClaim).toBeUndefined();
    expect(config.HKS_OCI_REGISTRY).toBeTruthy();
  });

  it('needs no ReadWriteMany storage: no claim of the platform or dev-infra asks for it', () => {
    const claims = [...objects, ...devInfraObjects()].flatMap(({ object }) => [
      ...(isKind(object, 'PersistentVolumeClaim') ? [object.spec] : []),
      ...(isKind(object, 'StatefulSet') ? (object.spec.volumeClaimTemplates ?? []).map((t) => t.spec) : []),
    ]);
    expect(claims.length).toBeGreaterThan(0);
    for (const claim of claims) expect(claim.accessModes).toEqual(['ReadWriteOnce']);
  });
});
