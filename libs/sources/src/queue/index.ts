import { DELIVERY_DOCS, DELIVERY_FIELDS, FORMAT_FIELD } from '../delivery';
import type { SourceDescriptor } from '../types';

const NAME = { regex: /^[A-Za-z0-9_.:\-/]{1,255}$/, means: 'a name of letters, digits, ".", "_", "-", ":" and "/"' };

/** RabbitMQ (AMQP 0-9-1): the platform's own broker or any AMQP URL; a queue, or an exchange with a binding key. */
export const queue: SourceDescriptor = {
  kind: 'queue',
  aliases: ['rabbitmq', 'amqp'],
  summary: "RabbitMQ: a queue, or an exchange with a binding key, on the platform's broker or any AMQP URL.",
  docs:
    "Without `url`, the platform's own RabbitMQ: the queue is `{namespace}.{source}` (e.g. `hks.order-events`), so two " +
    'platforms can share one broker; publish to it directly, or to the exchange `{namespace}.queues` with routing key ' +
    '`{source}`. With `url` (amqp:// or amqps://), `source` is the queue name as it is. With `exchange`, the queue is ' +
    'bound to it with `binding_key` (`#` when absent). Competing consumers: every deployer replica consumes, each ' +
    'message goes to one. ' +
    DELIVERY_DOCS,
  eventShape:
    'A CloudEvent: `type` "hks.queue.message", `source` "hks://queue/{queue}", `subject` the routing key, ' +
    '`datacontenttype` the message content type, `data` the body as text (so `JSON.parse(event.data)` gives a JSON ' +
    'body), or `data_base64` when it is not UTF-8; `id` the message id when the publisher set one. A message sent as a ' +
    'CloudEvent (content type application/cloudevents+json, or `cloudEvents:`/`ce-` headers) is that event, with JSON data parsed.',
  example: { type: 'queue', source: 'order-events', batchSize: 10, maxBatchWaitMs: 5000 },
  yamlExample: '- type: queue\n  source: order-events\n  batch_size: 10\n  max_batch_wait: 5s',
  fields: [
    { key: 'source', yaml: 'source', yamlAliases: ['queue'], type: 'string', max: 255, pattern: NAME, description: 'The queue name.', example: 'order-events' },
    {
      key: 'url',
      yaml: 'url',
      type: 'url',
      values: ['amqp', 'amqps'],
      description: "An AMQP broker's URL (amqp://user:pass@host:5672/vhost); the platform's broker when absent.",
      example: 'amqp://guest:guest@127.0.0.1:5672',
    },
    {
      key: 'exchange',
      yaml: 'exchange',
      type: 'string',
      max: 255,
      pattern: NAME,
      description: 'An exchange to bind the queue to (it must exist, or is declared as a topic exchange).',
    },
    {
      key: 'bindingKey',
      yaml: 'binding_key',
      yamlAliases: ['routing_key'],
      type: 'string',
      max: 255,
      description: 'The binding key (topic pattern) for `exchange`; "#" when absent.',
    },
    FORMAT_FIELD,
    ...DELIVERY_FIELDS,
  ],
  check(t) {
    if (t.source === undefined && t.exchange === undefined) return 'queue trigger needs a "source" (the queue name) or an "exchange"';
    if (t.bindingKey !== undefined && t.exchange === undefined) return 'queue trigger bindingKey needs an "exchange"';
    return undefined;
  },
  runtime: 'consumer',
  identity: (t) => [t.url ?? '', t.source ?? '', t.exchange ?? '', t.bindingKey ?? ''],
  load: () => import('./consumer').then((m) => m.sourceModule),
};
