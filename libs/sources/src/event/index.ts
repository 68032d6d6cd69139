import type { SourceDescriptor } from '../types';

/** Custom events posted to POST /api/v3/events, by type. */
export const event: SourceDescriptor = {
  kind: 'event',
  aliases: ['custom'],
  summary: 'Custom events posted to POST /api/v3/events (or `hks events publish`), by their type.',
  docs:
    'Every event of `eventType` posted while the function is deployed invokes it once (an asynchronous invocation keyed ' +
    'by the event id: an event delivered twice on the bus still runs once). A failed run is retried by `retry` (or ' +
    'config.retry), then goes to the dead letters.',
  eventShape:
    'The posted event as a CloudEvent: `type` its type (e.g. "user_registered"), `id`, `source`, `time`, `subject`, ' +
    '`datacontenttype` "application/json" and `data` its payload, so `event["type"]`, `event.get("data")["email"]` ' +
    '(Python) and `event.data.email` (Node) read it.',
  example: { type: 'event', eventType: 'user_registered' },
  yamlExample: '- type: event\n  event_type: user_registered',
  fields: [
    {
      key: 'eventType',
      yaml: 'event_type',
      yamlAliases: ['event'],
      type: 'string',
      required: true,
      max: 128,
      pattern: {
        regex: /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/,
        means: 'an event type (dot-separated words of letters, digits, _ and -, e.g. ORDER_PLACED or com.shop.order.placed)',
      },
      description: 'The event type that triggers the function.',
      example: 'user_registered',
    },
    { key: 'retry', yaml: 'retry', type: 'retry', description: "How a failed invocation is retried; the function's config.retry when absent." },
  ],
  runtime: 'bus',
  identity: (t) => [t.eventType],
};
