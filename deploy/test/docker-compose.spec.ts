import { existsSync } from 'fs';
import * as path from 'path';
import { composeSchemaErrors } from './support/compose-schema';
import { PLATFORM_APPS, readYamlDocuments, REPO_ROOT } from './support/manifests';
import { appSettingsSchema, documentedUnsetSettings, loadAppSettings, settingsWithoutDefault } from './support/settings';

/** The fields of a Compose service these checks read (the schema check above covers the rest). */
interface ComposeService {
  image: string;
  build: { context: string; dockerfile: string };
  command: string[];
  restart: string;
  hostname: string;
  healthcheck?: { test: string[] };
  depends_on?: string[] | Record<string, { condition: string }>;
  environment?: string[] | Record<string, string | number | boolean>;
  volumes?: (string | { source: string; target: string })[];
  ports?: string[];
  privileged?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  user?: string;
  security_opt: string[];
  pid?: string;
  network_mode?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// Compose follows YAML 1.1 merge keys (<<: *anchor), so parse with them.
const [compose] = readYamlDocuments(path.join(REPO_ROOT, 'docker-compose.yml'), { merge: true }) as ComposeFile[];
const services = compose.services;
const INFRA = ['postgres', 'rabbitmq', 'redis', 'registry'];
const ONE_SHOT = ['registry-seed'];
const APP_NAMES = PLATFORM_APPS.map((a) => a.name);

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => [line.split('=')[0], line.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** "name:/path" volume entries as {source, target}. */
function mounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      return { source, target };
    }
    return { source: v.source, target: v.target };
  });
}

const dependsOn = (service: ComposeService): Record<string, { condition: string }> =>
  Array.isArray(service.depends_on) ? Object.fromEntries(service.depends_on.map((d) => [d, { condition: 'service_started' }])) : (service.depends_on ?? {});

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification, unknown keys included', () => {
    expect(composeSchemaErrors(compose)).toEqual([]);
  });

  it('would be refused by that check with a misspelt option', () => {
    const broken = { ...compose, services: { ...services, gateway: { ...services.gateway, healtcheck: services.gateway.healthcheck } } };
    expect(composeSchemaErrors(broken)).toEqual(['/services/gateway must NOT have additional properties: healtcheck']);
  });

  it('runs Postgres, RabbitMQ, Redis, a registry, the registry seed and the six apps', () => {
    expect(Object.keys(services).sort()).toEqual([...INFRA, ...ONE_SHOT, ...APP_NAMES].sort());
  });

  it('gives every service an image pinned to a tag', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.image]).toEqual([name, expect.stringMatching(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/)]);
      expect(service.image).not.toMatch(/:latest$/);
    }
  });

  it.each(PLATFORM_APPS.map((a) => [a.name, a] as const))('builds %s from the repository Dockerfile and starts it by name', (name) => {
    const service = services[name];
    expect(service.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(existsSync(path.join(REPO_ROOT, service.build.context, service.build.dockerfile))).toBe(true);
    expect(service.image).toBe('hks/platform:dev');
    expect(service.command).toEqual([name]);
    expect(service.restart).toBe('unless-stopped');
  });

  it('health-checks every long-running service, and each app on its own /readyz', () => {
    for (const name of [...INFRA, ...APP_NAMES]) {
      expect([name, Array.isArray(services[name].healthcheck?.test)]).toEqual([name, true]);
    }
    for (const app of PLATFORM_APPS) {
      expect(services[app.name].healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${app.port}/readyz`);
    }
  });

  it('waits for healthy dependencies (or a finished one-shot) and every dependency exists', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(dependsOn(service))) {
        expect([name, target, target in services]).toEqual([name, target, true]);
        const expected = ONE_SHOT.includes(target) ? 'service_completed_successfully' : 'service_healthy';
        expect([name, target, condition]).toEqual([name, target, expected]);
        if (expected === 'service_healthy') expect([target, Boolean(services[target].healthcheck)]).toEqual([target, true]);
      }
    }
  });

  it('has no dependency cycle, so `up` can order every service', () => {
    const started: string[] = [];
    const remaining = new Set(Object.keys(services));
    while (remaining.size) {
      const ready = [...remaining].filter((n) => Object.keys(dependsOn(services[n])).every((d) => started.includes(d)));
      expect({ stuck: ready.length === 0 ? [...remaining] : [] }).toEqual({ stuck: [] });
      for (const n of ready) {
        started.push(n);
        remaining.delete(n);
      }
    }
    expect(started.indexOf('gateway')).toBeGreaterThan(started.indexOf('invoker'));
  });

  it('publishes only the gateway, on port 8080 of the loopback interface', () => {
    const published = Object.entries(services).filter(([, s]) => s.ports?.length);
    expect(published.map(([n]) => n)).toEqual(['gateway']);
    expect(services.gateway.ports).toEqual(['127.0.0.1:8080:8080']);
  });

  it('declares every named volume it mounts, and mounts every one it declares', () => {
    const used = Object.values(services).flatMap((s) => mounts(s).map((m) => m.source));
    const named = used.filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    const declared = Object.keys(compose.volumes ?? {});
    expect([...new Set(named)].sort()).toEqual(declared.sort());
  });

  it('shares HKS_DATA_DIR between the builder and the invoker only; the other apps keep their own', () => {
    const dataVolume = (app: string) => mounts(services[app]).find((m) => m.target === environment(services[app]).HKS_DATA_DIR)?.source;
    expect(dataVolume('builder')).toBeDefined();
    expect(dataVolume('invoker')).toBe(dataVolume('builder'));
    const others = APP_NAMES.filter((a) => a !== 'builder' && a !== 'invoker').map(dataVolume);
    expect(new Set(others).size).toBe(others.length);
    expect(others).not.toContain(undefined);
    expect(others).not.toContain(dataVolume('builder'));
  });

  it('gives each app a stable hostname, which names its event spool across container re-creation', () => {
    for (const app of APP_NAMES) expect(services[app].hostname).toBe(app);
  });

  describe.each(PLATFORM_APPS.map((a) => [a.name, a] as const))('the %s service', (name, app) => {
    const env = () => environment(services[name]);

    it('starts with valid settings: every value passes its schema and the port is the agreed one', () => {
      expect(loadAppSettings(name, env())[app.portEnv]).toBe(app.port);
      expect(env().HOST).toBe('0.0.0.0');
    });

    it('is given every setting without a default, unless the README says why it stays unset', () => {
      const unset = documentedUnsetSettings('Settings left unset in docker-compose.yml');
      const missing = settingsWithoutDefault(appSettingsSchema(name)).filter((key) => !(key in env()) && !unset.has(key));
      expect(missing).toEqual([]);
    });

    it('reaches the other services by their compose names, with their credentials', () => {
      const e = env();
      const db = new URL(e.DATABASE_URL);
      const pg = environment(services.postgres);
      expect([db.hostname, db.port, db.username, db.password, db.pathname]).toEqual([
        'postgres',
        '5432',
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        `/${pg.POSTGRES_DB}`,
      ]);
      const amqp = new URL(e.AMQP_URL);
      const mq = environment(services.rabbitmq);
      expect([amqp.hostname, amqp.port, amqp.username, amqp.password]).toEqual(['rabbitmq', '5672', mq.RABBITMQ_DEFAULT_USER, mq.RABBITMQ_DEFAULT_PASS]);
      expect(new URL(e.REDIS_URL).hostname).toBe('redis');
      expect(e.INVOKER_URL).toBe('http://invoker:8081');
      expect(e.BUILDER_URL).toBe('http://builder:8083');
    });

    it('drops every capability and runs as the image user', () => {
      const service = services[name];
      expect(service.privileged ?? false).toBe(false);
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.cap_add).toBeUndefined();
      expect(service.user).toBeUndefined();
      expect(service.security_opt).toContain('no-new-privileges:true');
    });
  });

  it('lifts for the invoker only the confinement bubblewrap needs, and nothing for the others', () => {
    expect([...services.invoker.security_opt].sort()).toEqual(
      ['apparmor=unconfined', 'no-new-privileges:true', 'seccomp=unconfined', 'systempaths=unconfined'].sort(),
    );
    for (const app of APP_NAMES.filter((a) => a !== 'invoker')) expect(services[app].security_opt).toEqual(['no-new-privileges:true']);
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.privileged ?? false, service.pid, service.network_mode]).toEqual([name, false, undefined, undefined]);
    }
  });

  it('pushes function images to the compose registry on base images that the seed copies there', () => {
    const env = environment(services.builder);
    expect(env.HKS_OCI_REGISTRY).toBe('registry:5000');
    const seed = services['registry-seed'].command.join(' ');
    for (const base of [env.HKS_BASE_IMAGE_NODE, env.HKS_BASE_IMAGE_PYTHON]) {
      expect(base.startsWith(`${env.HKS_OCI_REGISTRY}/`)).toBe(true);
      expect(seed).toContain(`docker://${base}`);
    }
    expect(services['registry-seed'].restart).toBe('no');
  });

  it('lets the invoker pull image functions from the compose registry as the builder reads it', () => {
    const builder = environment(services.builder);
    const invoker = environment(services.invoker);
    for (const name of ['HKS_OCI_REGISTRY', 'HKS_OCI_INSECURE']) expect([name, invoker[name]]).toEqual([name, builder[name]]);
  });
});
