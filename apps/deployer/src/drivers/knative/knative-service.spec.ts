import { type FunctionConfigDto, knativeConfigProblems, type Routing } from '@platform/contracts';
import { knativeServiceValidator, objectMetaProblems, trafficProblems, webhookProblems } from '../../../test-fixtures/knative-crd';
import { runtimeSpec } from '../../../test-fixtures/runtime-spec';
import { knativeProblem, knativeService, KnativeService, readiness, versionsProblem } from './knative-service';

describe('the Knative Service written for a function', () => {
  const validate = knativeServiceValidator();

  function expectValid(svc: KnativeService) {
    const ok = validate(svc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(objectMetaProblems(svc.metadata)).toEqual([]);
    expect(objectMetaProblems({ name: svc.metadata.name, ...svc.spec.template.metadata })).toEqual([]);
    expect(webhookProblems(svc)).toEqual([]);
  }

  it('is valid against the serving.knative.dev/v1 CRD schema with the defaults', () => {
    expectValid(knativeService(runtimeSpec(), 'functions', 'd-1'));
  });

  it('is valid with env, secrets, cpu, scaling bounds and a long timeout', () => {
    const spec = runtimeSpec(
      { label: 'orders-api' },
      {
        env: { LOG_LEVEL: 'debug', GREETING: 'hi there' },
        secrets: [
          { env: 'DB_PASSWORD', secret: 'db', key: 'password' },
          { env: 'API_TOKEN', secret: 'api' },
        ],
        resources: { memoryMb: 512, cpu: '250m', timeoutMs: 120_500 },
        scaling: { minInstances: 1, maxInstances: 20, concurrency: 8, target: 5 },
      },
    );
    expectValid(knativeService(spec, 'functions', 'd-2'));
  });

  it("passes Knative's webhook rules for every config the API takes at its limits, and the API refuses what the webhook would", () => {
    const accepted: FunctionConfigDto[] = [
      { resources: { timeoutMs: 600_000 } },
      { scaling: { minInstances: 10 } },
      { scaling: { minInstances: 100, maxInstances: 100 } },
      { env: { PORT_NUMBER: '1', K_OTHER: '2' } },
    ];
    for (const config of accepted) {
      expect(knativeConfigProblems(config)).toEqual([]);
      expectValid(knativeService(runtimeSpec({ label: 'a'.repeat(63) }, config), 'functions', 'd-1'));
    }
    const refused: FunctionConfigDto[] = [
      { env: { PORT: '9000' } },
      { env: { K_SERVICE: 'x' } },
      { secrets: [{ env: 'K_CONFIGURATION', secret: 'db' }] },
      { env: { K_REVISION: 'x' } },
      { resources: { timeoutMs: 600_001 } },
      { scaling: { minInstances: 11 } },
      { scaling: { minInstances: 3, maxInstances: 2 } },
    ];
    for (const config of refused) {
      const svc = knativeService(runtimeSpec({}, config), 'functions', 'd-1');
      expect(webhookProblems(svc)).not.toEqual([]);
      expect(knativeConfigProblems(config)).not.toEqual([]);
      expect(knativeProblem(runtimeSpec({}, config))).toMatch(/^Knative would refuse this function's Service: config\./);
    }
  });

  it('names a label stored before labels had to start with a letter as one Knative cannot take', () => {
    expect(webhookProblems(knativeService(runtimeSpec({ label: '1st-fn' }), 'functions', 'd-1'))).not.toEqual([]);
    expect(knativeProblem(runtimeSpec({ label: '1st-fn' }))).toContain('the label 1st-fn cannot name a Knative Service');
    expect(knativeProblem(runtimeSpec({ label: 'first-fn' }))).toBeUndefined();
  });

  it('names the Service after the label and runs the image by digest on port 8080', () => {
    const spec = runtimeSpec({ label: 'thumbnailer' });
    const svc = knativeService(spec, 'functions', 'd-3');
    expect(svc.metadata).toMatchObject({ name: 'thumbnailer', namespace: 'functions' });
    const [container] = svc.spec.template.spec.containers;
    expect(container.image).toBe(spec.image);
    expect(container.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(container.ports).toEqual([{ containerPort: 8080, name: 'http1' }]);
  });

  it("runs a user's own image (image: on create) as it is, pinned by digest, with Knative setting PORT", () => {
    // The build of an image function pins the user's reference; that pinned image is the spec's image.
    const pinned = `registry.example.com/team/orders@sha256:${'ef'.repeat(32)}`;
    const svc = knativeService(runtimeSpec({ label: 'orders', runtime: 'image', image: pinned }, { env: { MODE: 'x' } }), 'functions', 'd-4');
    expectValid(svc);
    const [container] = svc.spec.template.spec.containers;
    expect(container.image).toBe(pinned);
    expect(container.ports).toEqual([{ containerPort: 8080, name: 'http1' }]);
    // PORT is Knative's to set (from containerPort): a Service that sets it is refused by Knative's webhook.
    expect(container.env.map((e) => e.name)).toEqual(['MODE']);
  });

  it('passes env as values and secrets by reference, never their values', () => {
    const spec = runtimeSpec(
      {},
      {
        env: { MODE: 'fast' },
        secrets: [
          { env: 'DB_PASSWORD', secret: 'db', key: 'password' },
          { env: 'TOKEN', secret: 'api' },
        ],
      },
    );
    const env = knativeService(spec, 'functions', 'd').spec.template.spec.containers[0].env;
    // Each variable from the version's own Secret (hks-fn-{label}-v{n}, keyed by variable), which the driver writes.
    expect(env).toEqual([
      { name: 'MODE', value: 'fast' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'hks-fn-hello-fn-v1', key: 'DB_PASSWORD' } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'hks-fn-hello-fn-v1', key: 'TOKEN' } } },
      // What the shims' get_secret/getSecret look names up in: the references, no values.
      {
        name: 'HKS_SECRET_REFS',
        value: JSON.stringify([
          { env: 'DB_PASSWORD', secret: 'db', key: 'password' },
          { env: 'TOKEN', secret: 'api', key: 'value' },
        ]),
      },
    ]);
    expect(knativeService(runtimeSpec(), 'functions', 'd').spec.template.spec.containers[0].env.map((e) => e.name)).not.toContain('HKS_SECRET_REFS');
  });

  it('names the pull secret in imagePullSecrets and the digest of the secret values on the revision template, valid against the CRD', () => {
    const spec = runtimeSpec({}, { secrets: [{ env: 'TOKEN', secret: 'api' }] });
    const svc = knativeService(spec, 'functions', 'd', undefined, [], { pullSecret: 'hks-registry-pull', secretsDigest: 'ab12' });
    expect(svc.spec.template.spec.imagePullSecrets).toEqual([{ name: 'hks-registry-pull' }]);
    expect(svc.spec.template.metadata.annotations['hks.dev/secrets-digest']).toBe('ab12');
    expectValid(svc);
    expect(knativeService(spec, 'functions', 'd').spec.template.spec.imagePullSecrets).toBeUndefined();
  });

  it('turns memory, cpu, timeout and concurrency into the revision spec', () => {
    const spec = runtimeSpec({}, { resources: { memoryMb: 256, cpu: '500m', timeoutMs: 2_500 }, scaling: { concurrency: 4 } });
    const rev = knativeService(spec, 'functions', 'd').spec.template.spec;
    expect(rev.containers[0].resources).toEqual({ limits: { memory: '256Mi' }, requests: { memory: '256Mi', cpu: '500m' } });
    expect(rev.timeoutSeconds).toBe(3);
    expect(rev.containerConcurrency).toBe(4);
  });

  it('puts the autoscaling bounds on the revision template', () => {
    const spec = runtimeSpec({}, { scaling: { minInstances: 2, maxInstances: 9, concurrency: 3, target: 7 } });
    // Concurrency on the KPA is Knative's default: no class or metric, the template a revision had before metrics existed.
    expect(knativeService(spec, 'functions', 'd').spec.template.metadata.annotations).toEqual({
      'autoscaling.knative.dev/min-scale': '2',
      'autoscaling.knative.dev/max-scale': '9',
      'autoscaling.knative.dev/target': '7',
    });
    const byConcurrency = knativeService(runtimeSpec({}, { scaling: { concurrency: 3 } }), 'functions', 'd');
    expect(byConcurrency.spec.template.metadata.annotations['autoscaling.knative.dev/target']).toBe('3');
  });

  describe('scales on the metric the function chose', () => {
    const annotationsOf = (scaling: FunctionConfigDto['scaling'], resources?: FunctionConfigDto['resources']) => {
      const svc = knativeService(runtimeSpec({}, { scaling, resources }), 'functions', 'd');
      expectValid(svc);
      const a = svc.spec.template.metadata.annotations;
      return [
        a['autoscaling.knative.dev/class'],
        a['autoscaling.knative.dev/metric'],
        a['autoscaling.knative.dev/target'],
        a['autoscaling.knative.dev/min-scale'],
      ];
    };

    it("puts concurrency and requests per second on Knative's autoscaler (KPA), which scales to zero", () => {
      expect(annotationsOf({ metric: 'rps', target: 5 })).toEqual(['kpa.autoscaling.knative.dev', 'rps', '5', '0']);
      expect(annotationsOf({ metric: 'rps' })).toEqual(['kpa.autoscaling.knative.dev', 'rps', '200', '0']);
      expect(annotationsOf({ metric: 'rps', target: 0.5 })).toEqual(['kpa.autoscaling.knative.dev', 'rps', '0.5', '0']);
      expect(annotationsOf({ metric: 'concurrency', target: 7 })).toEqual([undefined, undefined, '7', '0']);
    });

    it('puts cpu, memory and a custom metric on the HPA class, with at least one instance', () => {
      expect(annotationsOf({ metric: 'cpu', target: 70 })).toEqual(['hpa.autoscaling.knative.dev', 'cpu', '70', '1']);
      expect(annotationsOf({ metric: 'cpu' })).toEqual(['hpa.autoscaling.knative.dev', 'cpu', '80', '1']);
      expect(annotationsOf({ metric: 'memory', minInstances: 2 }, { memoryMb: 256 })).toEqual(['hpa.autoscaling.knative.dev', 'memory', '204', '2']);
      expect(annotationsOf({ metric: 'custom', target: 20, customMetric: 'queue_backlog' })).toEqual([
        'hpa.autoscaling.knative.dev',
        'queue_backlog',
        '20',
        '1',
      ]);
    });

    it("has the webhook refuse what the API refuses: an HPA metric on the KPA, a target under Knative's minimum", () => {
      const svc = knativeService(runtimeSpec({}, { scaling: { metric: 'cpu' } }), 'functions', 'd');
      svc.spec.template.metadata.annotations['autoscaling.knative.dev/class'] = 'kpa.autoscaling.knative.dev';
      expect(webhookProblems(svc)).toEqual(['invalid value: cpu: autoscaling.knative.dev/metric']);
      svc.spec.template.metadata.annotations['autoscaling.knative.dev/target'] = '0';
      expect(webhookProblems(svc)).toContain('expected 0.01 <= 0: autoscaling.knative.dev/target');
      expect(knativeConfigProblems({ scaling: { metric: 'custom', target: 1 } })).not.toEqual([]);
    });
  });

  it('labels the Service as managed by hks with the function id', () => {
    const spec = runtimeSpec();
    const svc = knativeService(spec, 'functions', 'd');
    for (const labels of [svc.metadata.labels, svc.spec.template.metadata.labels]) {
      expect(labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'hks', 'hks.dev/function-id': spec.functionId });
    }
  });

  it('marks the Service cluster-local, so the Knative ingress does not expose it (only the gateway is public)', () => {
    const svc = knativeService(runtimeSpec(), 'functions', 'd');
    expect(svc.metadata.labels).toMatchObject({ 'networking.knative.dev/visibility': 'cluster-local' });
    // On the Service, not the revision template (where Knative ignores it).
    expect(svc.spec.template.metadata.labels['networking.knative.dev/visibility']).toBeUndefined();
    expectValid(svc);
    expect(
      webhookProblems({ ...svc, metadata: { ...svc.metadata, labels: { ...svc.metadata.labels, 'networking.knative.dev/visibility': 'public' } } }),
    ).not.toEqual([]);
  });

  it('is rejected by the schema when a field is misplaced (the check has teeth)', () => {
    const svc = knativeService(runtimeSpec(), 'functions', 'd') as unknown as { spec: { template: { spec: Record<string, unknown> } } };
    svc.spec.template.spec.containerConcurency = 3;
    expect(validate(svc)).toBe(false);
    const wrongType = knativeService(runtimeSpec(), 'functions', 'd') as unknown as { spec: { template: { spec: Record<string, unknown> } } };
    wrongType.spec.template.spec.timeoutSeconds = '30';
    expect(validate(wrongType)).toBe(false);
  });
});

describe('reading a Knative Service status', () => {
  const base = knativeService(runtimeSpec(), 'functions', 'd');

  it('is ready when the current generation is Ready=True, at its cluster-local address (status.address.url), not status.url', () => {
    const svc = {
      ...base,
      metadata: { ...base.metadata, generation: 2 },
      status: {
        observedGeneration: 2,
        url: 'http://hello-fn.functions.example.com',
        address: { url: 'http://hello-fn.functions.svc.cluster.local' },
        conditions: [{ type: 'Ready', status: 'True' as const }],
      },
    };
    // The status as Knative writes it is valid against the CRD's status schema too.
    const validate = knativeServiceValidator();
    expect(validate(svc)).toBe(true);
    expect(readiness(svc)).toEqual({ state: 'ready', url: 'http://hello-fn.functions.svc.cluster.local' });
    expect(readiness({ ...svc, status: { ...svc.status, address: undefined } })).toEqual({ state: 'ready', url: null });
  });

  it('waits while Knative has not observed the latest generation, even if an old one was ready', () => {
    const svc = {
      ...base,
      metadata: { ...base.metadata, generation: 3 },
      status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' as const }] },
    };
    expect(readiness(svc).state).toBe('pending');
  });

  it('fails with the reason and message of Ready=False', () => {
    const svc = {
      ...base,
      metadata: { ...base.metadata, generation: 1 },
      status: {
        observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'False' as const, reason: 'RevisionMissing', message: 'Configuration "x" does not have any ready Revision.' }],
      },
    };
    expect(readiness(svc)).toEqual({ state: 'failed', reason: 'RevisionMissing: Configuration "x" does not have any ready Revision.' });
  });
});

describe('versions on Knative: named revisions and the traffic block', () => {
  const validate = knativeServiceValidator();
  const spec = runtimeSpec({ label: 'shop', version: 3 });
  const routing = (over: Partial<Routing> = {}): Routing => ({ aliases: {}, splits: null, sticky: false, revision: 1, ...over });

  function expectValid(svc: KnativeService, existing: string[]) {
    expect(validate(svc) ? [] : validate.errors).toEqual([]);
    expect(objectMetaProblems(svc.metadata)).toEqual([]);
    expect(objectMetaProblems({ ...svc.spec.template.metadata, name: svc.spec.template.metadata.name ?? svc.metadata.name })).toEqual([]);
    expect(trafficProblems(svc, existing)).toEqual([]);
  }

  it('names the revision {service}-v{n} and sends it all traffic, by revision name, when it is the only version', () => {
    const svc = knativeService(spec, 'functions', 'd', routing());
    expect(svc.spec.template.metadata.name).toBe('shop-v3');
    expect(svc.spec.traffic).toEqual([{ revisionName: 'shop-v3', percent: 100 }]);
    expectValid(svc, []);
  });

  it('maps a split to percentages by revision, tags every version v{n}, and each alias by its name', () => {
    const svc = knativeService(
      spec,
      'functions',
      'd',
      routing({
        splits: [
          { version: 2, percent: 90 },
          { version: 3, percent: 10 },
        ],
        aliases: { stable: 1 },
      }),
      [1, 2],
    );
    expect(svc.spec.traffic).toEqual([
      { revisionName: 'shop-v2', percent: 90, tag: 'v2' },
      { revisionName: 'shop-v3', percent: 10, tag: 'v3' },
      { revisionName: 'shop-v1', percent: 0, tag: 'v1' },
      { revisionName: 'shop-v3', percent: 0, tag: 'latest' },
      { revisionName: 'shop-v1', percent: 0, tag: 'stable' },
    ]);
    // v1 and v2 ran as the deployed version before: their revisions exist; v3 is the template's.
    expectValid(svc, ['shop-v1', 'shop-v2']);
  });

  it('is refused by the rules when it names a revision that does not exist, or the percentages do not sum to 100', () => {
    const svc = knativeService(
      spec,
      'functions',
      'd',
      routing({
        splits: [
          { version: 1, percent: 50 },
          { version: 3, percent: 50 },
        ],
      }),
      [1],
    );
    expect(trafficProblems(svc, [])).toEqual(['traffic[0]: revision shop-v1 does not exist']);
    const broken = { ...svc, spec: { ...svc.spec, traffic: [{ revisionName: 'shop-v3', percent: 60, tag: 'Bad_Tag' }] } };
    expect(trafficProblems(broken, [])).toEqual(['traffic percentages sum to 60, not 100', 'traffic[0]: tag Bad_Tag is not a DNS-1035 label']);
  });

  it('says a label too long for tagged hosts can run one version only, and leaves such a single version as before', () => {
    const long = runtimeSpec({ label: `l${'o'.repeat(59)}ng`, version: 2 });
    expect(versionsProblem(long, routing({ aliases: { stable: 1 } }), [1])).toMatch(/is too long for several versions on Knative/);
    expect(versionsProblem(long, routing(), [])).toBeUndefined();
    const svc = knativeService(long, 'functions', 'd', routing());
    expect(svc.spec.template.metadata.name).toBeUndefined();
    expect(svc.spec.traffic).toBeUndefined();
    expectValid(svc, []);
  });
});
