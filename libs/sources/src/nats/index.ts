import { DELIVERY_DOCS, DELIVERY_FIELDS, FORMAT_FIELD } from '../delivery';
import type { SourceDescriptor } from '../types';

const SUBJECT = { regex: /^[^\s]+$/, means: 'a NATS subject (tokens separated by ".", "*" and ">" as wildcards)' };

/** NATS: core subjects (queue group) or JetStream durable consumers. */
export const nats: SourceDescriptor = {
  kind: 'nats',
  summary: 'NATS: a core subject (wildcards allowed, a queue group across replicas) or a JetStream stream with a durable consumer.',
  docs:
    'Core NATS (`stream` absent): the deployer replicas subscribe to `subject` in one queue group, so each message is ' +
    'delivered once; core NATS keeps nothing, so a message published while no deployer runs, or lost in a crash before ' +
    'it was accepted, is gone (at most once: use JetStream for at least once). JetStream (`stream` set): a durable pull ' +
    'consumer (`durable`, or one named after the function) on that stream, filtered by `subject`; a message is ' +
    'acknowledged only once accepted, so none is lost (redelivered after `ack_wait`). ' +
    DELIVERY_DOCS,
  eventShape:
    'A CloudEvent: `type` "hks.nats.message", `source` "hks://nats/{subject}", `subject` the message subject, `data` the ' +
    'body as text (or `data_base64`), `id` "{stream}:{sequence}" on JetStream (stable across redeliveries), ' +
    '`natsstream` and `natsseq` extensions. CloudEvents in NATS headers (ce-*) or structured (content-type ' +
    'application/cloudevents+json header) are passed as they are.',
  example: { type: 'nats', subject: 'orders.*', stream: 'ORDERS', durable: 'order-processor' },
  yamlExample: '- type: nats\n  subject: orders.*\n  stream: ORDERS        # JetStream; omit for core NATS\n  durable: order-processor',
  fields: [
    {
      key: 'subject',
      yaml: 'subject',
      type: 'string',
      required: true,
      max: 255,
      pattern: SUBJECT,
      description: 'The subject (wildcards * and > allowed).',
      example: 'orders.*',
    },
    {
      key: 'url',
      yaml: 'url',
      yamlAliases: ['servers'],
      type: 'string',
      max: 1024,
      description: 'NATS server(s), e.g. "nats://127.0.0.1:4222" (comma-separated for several); NATS_URL of the platform when absent.',
      example: 'nats://127.0.0.1:4222',
    },
    {
      key: 'stream',
      yaml: 'stream',
      type: 'string',
      max: 255,
      pattern: { regex: /^[A-Za-z0-9_-]+$/, means: 'a stream name (letters, digits, _ and -)' },
      description: 'A JetStream stream: consume it with a durable consumer (at least once). Core NATS when absent.',
    },
    {
      key: 'durable',
      yaml: 'durable',
      type: 'string',
      max: 255,
      pattern: { regex: /^[A-Za-z0-9_-]+$/, means: 'a consumer name (letters, digits, _ and -)' },
      description: 'The durable consumer name (JetStream); one named after the namespace and trigger when absent.',
    },
    {
      key: 'ackWaitMs',
      yaml: 'ack_wait',
      type: 'duration',
      min: 1000,
      max: 3_600_000,
      default: 30_000,
      description: 'JetStream: how long a message may stay unacknowledged before it is redelivered.',
    },
    FORMAT_FIELD,
    ...DELIVERY_FIELDS,
  ],
  check(t) {
    if ((t.durable !== undefined || t.ackWaitMs !== undefined) && t.stream === undefined) return 'nats trigger durable and ackWaitMs need a JetStream "stream"';
    return undefined;
  },
  runtime: 'consumer',
  identity: (t) => [t.url ?? '', t.subject, t.stream ?? '', t.durable ?? ''],
  load: () => import('./consumer').then((m) => m.sourceModule),
};
