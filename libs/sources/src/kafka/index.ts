import { DELIVERY_DOCS, DELIVERY_FIELDS, FORMAT_FIELD } from '../delivery';
import type { SourceDescriptor } from '../types';

/** Kafka: a consumer group on one or more topics (KafkaJS). */
export const kafka: SourceDescriptor = {
  kind: 'kafka',
  summary: 'Kafka: topics read by a consumer group, offsets committed once the messages are accepted.',
  docs:
    'The deployer replicas join the consumer group `group` (one per namespace and trigger when absent) on `topics`; ' +
    'offsets are committed only after the messages are accepted, so a replica that dies leaves them to the next ' +
    '(at least once; the id `{topic}:{partition}:{offset}` makes a redelivered message the same invocation). ' +
    '`from_beginning` reads a new group from the oldest offset. ' +
    DELIVERY_DOCS,
  eventShape:
    'A CloudEvent: `type` "hks.kafka.message", `source` "hks://kafka/{topic}", `id` "{topic}:{partition}:{offset}", ' +
    '`subject` the message key, `data` the value as text (or `data_base64`), `kafkapartition`, `kafkaoffset` and ' +
    '`kafkakey` extensions. Binary-mode CloudEvents (ce_* headers) are passed as they are.',
  example: { type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['orders'] },
  yamlExample: '- type: kafka\n  brokers: [127.0.0.1:9092]\n  topics: [orders]',
  fields: [
    {
      key: 'brokers',
      yaml: 'brokers',
      yamlAliases: ['bootstrap_servers'],
      type: 'strings',
      required: true,
      max: 20,
      pattern: { regex: /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, means: 'a broker address host:port' },
      description: 'Bootstrap brokers, host:port.',
      example: ['127.0.0.1:9092'],
    },
    {
      key: 'topics',
      yaml: 'topics',
      yamlAliases: ['topic'],
      type: 'strings',
      required: true,
      max: 50,
      pattern: { regex: /^[A-Za-z0-9._-]{1,249}$/, means: 'a Kafka topic name' },
      description: 'Topics to consume.',
      example: ['orders'],
    },
    {
      key: 'group',
      yaml: 'group',
      yamlAliases: ['consumer_group'],
      type: 'string',
      max: 255,
      description: 'The consumer group; one per namespace and trigger when absent.',
    },
    {
      key: 'fromBeginning',
      yaml: 'from_beginning',
      type: 'bool',
      default: false,
      description: 'A new group starts at the oldest offset (else at the newest).',
    },
    { key: 'tls', yaml: 'tls', type: 'bool', default: false, description: 'Connect with TLS.' },
    {
      key: 'saslMechanism',
      yaml: 'sasl_mechanism',
      type: 'enum',
      values: ['plain', 'scram-sha-256', 'scram-sha-512'],
      description: 'SASL mechanism; the user and password come from the secret `sasl_secret`.',
    },
    { key: 'saslSecret', yaml: 'sasl_secret', type: 'string', max: 253, description: 'Name of a stored secret holding `username` and `password` keys.' },
    FORMAT_FIELD,
    ...DELIVERY_FIELDS,
  ],
  check(t) {
    if ((t.saslMechanism === undefined) !== (t.saslSecret === undefined)) return 'kafka trigger saslMechanism and saslSecret go together';
    return undefined;
  },
  runtime: 'consumer',
  identity: (t) => [t.brokers, t.topics, t.group ?? ''],
  load: () => import('./consumer').then((m) => m.sourceModule),
  untested:
    'No Kafka broker can be installed on the machines this project is built on (none in Debian or npm): the Kafka consumer is tested against a fake KafkaJS client (its batches, commits after acceptance and retries), never against a real broker.',
};
