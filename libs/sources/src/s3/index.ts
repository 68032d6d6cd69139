import { DELIVERY_DOCS, DELIVERY_FIELDS } from '../delivery';
import type { SourceDescriptor } from '../types';

/** S3-compatible storage events: bucket notifications by webhook, or polling any S3 API. */
export const s3: SourceDescriptor = {
  kind: 's3',
  aliases: ['storage'],
  summary: 'S3-compatible storage events: bucket notifications (S3 event format) by webhook, or polling a bucket on any S3 API.',
  docs:
    "`mode: webhook` (the default): point the bucket's notifications at `POST /api/v1/sources/s3/{label}` with an API key " +
    'that may invoke the function (MinIO: `mc admin config set ALIAS notify_webhook:hks endpoint=<gateway>/api/v1/sources/s3/<label> ' +
    'auth_token=<key>`, sent as `Authorization: Bearer <key>`); each matching record is committed as an invocation before the ' +
    'answer (200 `{"records", "accepted"}`), so a sender that retries loses none and duplicates none. An SNS Notification ' +
    'envelope carrying S3 records is read too; a SubscriptionConfirmation is answered 400 (the platform fetches no URL a ' +
    'request names: confirm it by its SubscribeURL). Notifications in the S3 event format also come from the queue ' +
    "sources: set `format: s3` on a queue, nats, mqtt or kafka trigger that receives them (MinIO's AMQP, NATS, MQTT and " +
    'Kafka targets, AWS through SQS). `mode: poll`: the deployer lists the bucket every `poll_interval` (ListObjectsV2, ' +
    'any S3 API) and reports objects that are new or changed since the last look as ObjectCreated events; the first look, ' +
    'made before the deploy answers, only records what is there (an object put once the function is deployed is new). ' +
    "Against s3rver, keep a prefix's objects under 1,000: s3rver cannot page a longer listing on Node 17+. " +
    '`events`, `prefix` and `suffix` filter the records. ' +
    DELIVERY_DOCS,
  eventShape:
    'One CloudEvent per record: `type` the S3 event name (e.g. "s3:ObjectCreated:Put"), `source` "hks://s3/{bucket}", ' +
    '`subject` the object key, `id` "{bucket}/{key}@{eTag or sequencer}", `data` the record as S3 sends it ' +
    '(`data.s3.bucket.name`, `data.s3.object.key`, `size`, `eTag`).',
  example: { type: 's3', bucket: 'uploads', events: ['s3:ObjectCreated:*'], prefix: 'images/' },
  yamlExample: '- type: s3\n  bucket: uploads\n  events: ["s3:ObjectCreated:*"]\n  prefix: images/',
  fields: [
    {
      key: 'bucket',
      yaml: 'bucket',
      type: 'string',
      required: true,
      max: 255,
      pattern: { regex: /^[a-z0-9][a-z0-9.-]{1,253}[a-z0-9]$/, means: 'a bucket name (lowercase letters, digits, "." and "-")' },
      description: 'The bucket.',
      example: 'uploads',
    },
    {
      key: 'events',
      yaml: 'events',
      type: 'strings',
      max: 20,
      pattern: { regex: /^s3:[A-Za-z]+(:[A-Za-z*]+)?$/, means: 'an S3 event name such as s3:ObjectCreated:* or s3:ObjectRemoved:Delete' },
      description: 'Event names that trigger it (wildcard * allowed); all when absent.',
      example: ['s3:ObjectCreated:*'],
    },
    { key: 'prefix', yaml: 'prefix', type: 'string', max: 1024, description: 'Only object keys starting with this.' },
    { key: 'suffix', yaml: 'suffix', type: 'string', max: 1024, description: 'Only object keys ending with this.' },
    {
      key: 'mode',
      yaml: 'mode',
      type: 'enum',
      values: ['webhook', 'poll'],
      default: 'webhook',
      description: '"webhook": notifications POSTed to the platform; "poll": the deployer lists the bucket.',
    },
    { key: 'endpoint', yaml: 'endpoint', type: 'url', values: ['http', 'https'], description: 'poll: the S3 API endpoint, e.g. http://127.0.0.1:9000.' },
    { key: 'region', yaml: 'region', type: 'string', max: 64, default: 'us-east-1', description: 'poll: the region to sign for.' },
    {
      key: 'credentialsSecret',
      yaml: 'credentials_secret',
      type: 'string',
      max: 253,
      description: 'poll: a stored secret with `accessKeyId` and `secretAccessKey` keys.',
    },
    {
      key: 'pollIntervalMs',
      yaml: 'poll_interval',
      type: 'duration',
      min: 1000,
      max: 86_400_000,
      default: 30_000,
      description: 'poll: time between two listings.',
    },
    {
      key: 'forcePathStyle',
      yaml: 'force_path_style',
      type: 'bool',
      default: true,
      description: 'poll: path-style URLs (MinIO, s3rver); false for virtual-hosted style.',
    },
    ...DELIVERY_FIELDS,
  ],
  check(t) {
    if (t.mode === 'poll' && t.endpoint === undefined) return 's3 trigger with mode "poll" needs an "endpoint" (the S3 API URL)';
    if (t.mode !== 'poll' && (t.endpoint !== undefined || t.pollIntervalMs !== undefined || t.credentialsSecret !== undefined))
      return 's3 trigger endpoint, credentialsSecret and pollIntervalMs are for mode "poll"';
    return undefined;
  },
  runtime: 'consumer',
  identity: (t) => [t.bucket, t.mode ?? 'webhook', t.endpoint ?? '', t.prefix ?? '', t.suffix ?? ''],
  load: () => import('./consumer').then((m) => m.sourceModule),
};
