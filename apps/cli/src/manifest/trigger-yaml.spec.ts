import { SOURCES, sourceProblem } from '@platform/sources';
import { parseFunctionYaml } from './function-yaml';
import { ManifestError } from './yaml-reader';

const triggers = (lines: string, env: Record<string, string> = {}) => parseFunctionYaml(`triggers:\n${lines}`, env).config.triggers;

function problem(lines: string): string {
  try {
    parseFunctionYaml(`triggers:\n${lines}`, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message;
  }
  throw new Error('expected the triggers to be refused');
}

describe('function.yaml triggers, read through the event sources', () => {
  it("reads every kind's own function.yaml example into a trigger its descriptor accepts", () => {
    for (const d of SOURCES) {
      const yaml = d.yamlExample
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n');
      const [t] = triggers(`${yaml}\n`)!;
      expect([d.kind, t.type, sourceProblem(t)]).toEqual([d.kind, d.kind, undefined]);
    }
  });

  it('reads the product doc triggers as the API takes them', () => {
    expect(triggers('  - type: http\n    methods: [GET, POST]\n    path: /api/hello\n    auth: required\n')).toEqual([
      { type: 'http', methods: ['GET', 'POST'], path: '/api/hello', auth: 'required' },
    ]);
    expect(triggers('  - type: queue\n    source: order-events\n    batch_size: 10\n    max_batch_wait: 5s\n')).toEqual([
      { type: 'queue', source: 'order-events', batchSize: 10, maxBatchWaitMs: 5000 },
    ]);
    expect(triggers('  - type: schedule\n    cron: "0 2 * * *"\n    timezone: Asia/Tokyo\n')).toEqual([
      { type: 'schedule', cron: '0 2 * * *', timezone: 'Asia/Tokyo' },
    ]);
  });

  it("takes a kind's aliases and a key's aliases, and sends the kind and the API key", () => {
    expect(triggers('  - type: rabbitmq\n    queue: orders\n    exchange: shop\n    routing_key: order.*\n')).toEqual([
      { type: 'queue', source: 'orders', exchange: 'shop', bindingKey: 'order.*' },
    ]);
    expect(triggers('  - type: cron\n    schedule: "*/5 * * * *"\n    input: {full: true}\n')).toEqual([
      { type: 'schedule', cron: '*/5 * * * *', data: { full: true } },
    ]);
    // a list field takes one value as a list of one
    expect(triggers('  - type: kafka\n    bootstrap_servers: 127.0.0.1:9092\n    topic: orders\n    from_beginning: true\n')).toEqual([
      { type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['orders'], fromBeginning: true },
    ]);
  });

  it('reads durations as milliseconds and the retry keys as config.retry', () => {
    expect(
      triggers(
        '  - type: nats\n    subject: orders.*\n    stream: ORDERS\n    ack_wait: 2m\n    max_batch_wait: 300ms\n' +
          '    retry: {attempts: 5, backoff: 1s, max_backoff: 2m, multiplier: 1.5, jitter: none, on: [error, timeout], max_age: 1h}\n',
      ),
    ).toEqual([
      {
        type: 'nats',
        subject: 'orders.*',
        stream: 'ORDERS',
        ackWaitMs: 120_000,
        maxBatchWaitMs: 300,
        retry: { attempts: 5, initialDelayMs: 1000, maxDelayMs: 120_000, multiplier: 1.5, jitter: 'none', on: ['error', 'timeout'], maxAgeMs: 3_600_000 },
      },
    ]);
    expect(triggers('  - event: {type: ORDER_PLACED, retry: {initial_delay: 500ms, max_delay: 5s}}\n')).toEqual([
      { type: 'event', eventType: 'ORDER_PLACED', retry: { initialDelayMs: 500, maxDelayMs: 5000 } },
    ]);
  });

  it('keeps the short form: "- <kind>: {...}" and the kind alone', () => {
    expect(
      triggers(
        '  - http\n  - http: {}\n  - queue: {source: orders, batch_size: 10, max_batch_wait: 5s}\n' +
          '  - schedule: {cron: "0 * * * *", timezone: Europe/Paris}\n  - event: {type: com.shop.order.placed}\n  - event: {event_type: ORDER_PLACED}\n',
      ),
    ).toEqual([
      { type: 'http' },
      { type: 'http' },
      { type: 'queue', source: 'orders', batchSize: 10, maxBatchWaitMs: 5000 },
      { type: 'schedule', cron: '0 * * * *', timezone: 'Europe/Paris' },
      { type: 'event', eventType: 'com.shop.order.placed' },
      { type: 'event', eventType: 'ORDER_PLACED' },
    ]);
  });

  it('substitutes ${VAR} in trigger values', () => {
    expect(triggers('  - type: queue\n    source: ${QUEUE}\n', { QUEUE: 'orders-eu' })).toEqual([{ type: 'queue', source: 'orders-eu' }]);
  });

  it('names the unknown key, the trigger and the keys its kind takes', () => {
    expect(problem('  - type: http\n  - type: rabbitmq\n    queue: orders\n    colour: red\n')).toBe(
      "function.yaml:5: triggers[1].colour: trigger 1 (queue) has no key 'colour'; it takes type, source (or queue), url, exchange, " +
        'binding_key (or routing_key), format, batch_size, max_batch_wait, deliver, retry, result_topic, error_topic',
    );
    expect(problem('  - http: {methods: [GET], verb: POST}\n')).toBe(
      "function.yaml:2: triggers[0].http.verb: trigger 0 (http) has no key 'verb'; it takes methods, path, auth",
    );
    expect(problem('  - type: queue\n    source: q\n    retry: {tries: 3}\n')).toBe(
      "function.yaml:4: triggers[0].retry.tries: queue trigger retry has no key 'tries'; retry takes attempts, backoff (or initial_delay), " +
        'max_backoff (or max_delay), multiplier, jitter, on, max_age',
    );
    expect(problem('  - type: queue\n    source: a\n    queue: b\n')).toBe(
      "function.yaml:4: triggers[0].queue: 'queue' is another name for 'source'; write it once",
    );
  });

  it('names unknown kinds, with every kind and alias', () => {
    expect(problem('  - type: smtp\n')).toBe(
      "function.yaml:2: triggers[0].type: 'smtp' is not a trigger type (http, queue (or rabbitmq, amqp), nats, mqtt, kafka, s3 (or storage), schedule (or cron), event (or custom))",
    );
    expect(problem('  - webhook: {}\n')).toMatch(/^function\.yaml:2: triggers\[0\]\.webhook: 'webhook' is not a trigger type; write "- type: <kind>"/);
    expect(problem('  - http: {}\n    queue: {}\n')).toMatch(/^function\.yaml:3: triggers\[0\]\.queue: a trigger names its kind once/);
  });

  it("refuses a wrong value with the API's message, at the line of the key", () => {
    // The API names the key as the API spells it; the CLI as function.yaml does, in the same words.
    const api = sourceProblem({ type: 'queue', source: 'q', batchSize: 0 })!;
    expect(problem('  - type: queue\n    source: q\n    batch_size: 0\n')).toBe(
      `function.yaml:4: triggers[0].batch_size: ${api.replace('batchSize', 'batch_size')}`,
    );
    expect(problem('  - type: schedule\n    cron: "61 * * * *"\n')).toBe(
      `function.yaml:3: triggers[0].cron: ${sourceProblem({ type: 'schedule', cron: '61 * * * *' })}`,
    );
    expect(problem('  - schedule: {cron: "0 * * * *", timezone: Mars/Olympus}\n')).toBe(
      'function.yaml:2: triggers[0].schedule.timezone: schedule trigger timezone "Mars/Olympus" is not a known time zone (e.g. UTC, Asia/Tokyo)',
    );
    expect(problem('  - type: http\n    methods: [GET, FETCH]\n')).toBe(
      'function.yaml:3: triggers[0].methods: http trigger methods: "FETCH" is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)',
    );
    expect(problem('  - type: http\n    auth: maybe\n')).toBe(
      'function.yaml:3: triggers[0].auth: http trigger auth must be one of "none", "api-key", "required"',
    );
    expect(problem('  - type: http\n    path: /a/../b\n')).toBe('function.yaml:3: triggers[0].path: http trigger path must not contain "." or ".." segments');
    expect(problem('  - type: queue\n    source: q\n    routing_key: a.b\n')).toBe(
      'function.yaml:4: triggers[0].routing_key: queue trigger binding_key needs an "exchange"',
    );
    expect(problem('  - type: queue\n    source: q\n    retry: {attempts: 0}\n')).toBe(
      'function.yaml:4: triggers[0].retry.attempts: queue trigger retry.attempts must be a whole number from 1 to 50',
    );
  });

  it('says what a duration is and its bounds in the units of function.yaml', () => {
    expect(problem('  - type: queue\n    source: q\n    max_batch_wait: soon\n')).toBe(
      "function.yaml:4: triggers[0].max_batch_wait: queue trigger max_batch_wait: 'soon' is not a duration (e.g. 5s, 300ms or 2m)",
    );
    expect(problem('  - type: queue\n    source: q\n    max_batch_wait: 2h\n')).toBe(
      "function.yaml:4: triggers[0].max_batch_wait: queue trigger max_batch_wait must be from 0s to 1h, not '2h'",
    );
  });

  it('names what a kind needs', () => {
    expect(problem('  - type: nats\n')).toBe('function.yaml:2: triggers[0]: nats trigger needs "subject": The subject (wildcards * and > allowed).');
    expect(problem('  - queue: {batch_size: 10}\n')).toBe('function.yaml:2: triggers[0]: queue trigger needs a "source" (the queue name) or an "exchange"');
    expect(problem('  - cron\n')).toBe('function.yaml:2: triggers[0]: schedule trigger needs "cron": A cron expression: five fields, e.g. "0 2 * * *".');
    expect(problem('  -\n')).toMatch(/^function\.yaml:\d: triggers\[0\]: empty trigger/);
  });
});
