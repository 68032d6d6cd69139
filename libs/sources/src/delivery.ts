import type { FieldSpec } from './fields';

/** The delivery fields every consumer kind has (queue, nats, mqtt, kafka, s3): batches, retries, result topics. */
export const DELIVERY_FIELDS: FieldSpec[] = [
  {
    key: 'batchSize',
    yaml: 'batch_size',
    type: 'int',
    min: 1,
    max: 1000,
    default: 1,
    description: 'Messages taken together: accepted in one transaction, and with deliver "batch" handed to one invocation.',
  },
  {
    key: 'maxBatchWaitMs',
    yaml: 'max_batch_wait',
    type: 'duration',
    min: 0,
    max: 3_600_000,
    default: 1000,
    description: 'Longest wait for a batch to fill once its first message came (ms in the API; "5s" in function.yaml).',
  },
  {
    key: 'deliver',
    yaml: 'deliver',
    type: 'enum',
    values: ['each', 'batch'],
    default: 'each',
    description: '"each": one invocation per message (the handler gets one event); "batch": one invocation per batch, whose event.data is the list.',
  },
  {
    key: 'retry',
    yaml: 'retry',
    type: 'retry',
    description: "How a failed invocation is retried (config.retry's fields: attempts, initialDelayMs, ...); the function's config.retry when absent.",
  },
  {
    key: 'resultTopic',
    yaml: 'result_topic',
    type: 'string',
    max: 255,
    description: 'Where each successful result is published (a queue, subject or topic on the same system).',
  },
  {
    key: 'errorTopic',
    yaml: 'error_topic',
    type: 'string',
    max: 255,
    description: 'Where each invocation that ends failed or dead (out of retries) is published, with its error.',
  },
];

export const DELIVERY_DOCS =
  'Every message is accepted as an asynchronous invocation (committed in Postgres) before it is acknowledged, so none ' +
  'is lost; a failing handler is retried by `retry` (or config.retry), then lands in the dead letters ' +
  '(`hks invocations list --status dead`, `hks invocations redrive`). Never more than `retry.attempts` tries, never ' +
  'past `retry.maxAgeMs`.';

/** How a message-queue source reads a message's body (queue, nats, mqtt, kafka). */
export const FORMAT_FIELD: FieldSpec = {
  key: 'format',
  yaml: 'format',
  type: 'enum',
  values: ['message', 's3'],
  default: 'message',
  description:
    '"message": each message is one event (a CloudEvent message is that event); "s3": each message is an S3 bucket ' +
    'notification (MinIO or AWS format), one event per record, as the s3 source gives them.',
};
