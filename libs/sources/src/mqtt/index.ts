import { DELIVERY_DOCS, DELIVERY_FIELDS, FORMAT_FIELD } from '../delivery';
import type { SourceDescriptor } from '../types';

/** MQTT 3.1.1/5: topic filters at QoS 1 through a shared subscription. */
export const mqtt: SourceDescriptor = {
  kind: 'mqtt',
  summary: 'MQTT: topic filters (+ and # wildcards) at QoS 1, a shared subscription across replicas.',
  docs:
    'The deployer replicas subscribe to `topic` through the shared subscription `$share/{group}/{topic}` (MQTT 5 and ' +
    'Mosquitto 2 share it: each message goes to one replica), at QoS 1 with a persistent session, and acknowledge ' +
    '(PUBACK) a message only once it is accepted: a message is redelivered by the broker when a replica dies before. ' +
    'QoS 0 messages are delivered at most once. The broker bounds what it holds for a subscriber: Mosquitto keeps 20 ' +
    'unacknowledged and 1,000 queued QoS 1 messages per client by default (`max_inflight_messages`, ' +
    '`max_queued_messages`) and drops what comes beyond while the platform is behind (measured here: about 700 ' +
    'messages/s accepted); raise `max_queued_messages` on a broker that takes bursts. ' +
    DELIVERY_DOCS,
  eventShape:
    'A CloudEvent: `type` "hks.mqtt.message", `source` "hks://mqtt/{filter}", `subject` the message topic, `data` the ' +
    'payload as text (or `data_base64`), `mqttqos` and `mqttretain` extensions. A payload that is a structured ' +
    'CloudEvent (MQTT 5 content type application/cloudevents+json) is passed as it is.',
  example: { type: 'mqtt', topic: 'sensors/+/temperature', qos: 1 },
  yamlExample: '- type: mqtt\n  topic: sensors/+/temperature\n  url: mqtt://127.0.0.1:1883',
  fields: [
    {
      key: 'topic',
      yaml: 'topic',
      yamlAliases: ['filter'],
      type: 'string',
      required: true,
      max: 1024,
      pattern: { regex: /^[^\s$][^\s]*$|^\$[^\s]+$/, means: 'an MQTT topic filter' },
      description: 'The topic filter (+ one level, # the rest).',
      example: 'sensors/+/temperature',
    },
    {
      key: 'url',
      yaml: 'url',
      type: 'url',
      values: ['mqtt', 'mqtts', 'tcp', 'ssl', 'ws', 'wss'],
      description: 'The broker, e.g. mqtt://127.0.0.1:1883; MQTT_URL of the platform when absent.',
      example: 'mqtt://127.0.0.1:1883',
    },
    { key: 'qos', yaml: 'qos', type: 'int', min: 0, max: 1, default: 1, description: 'Subscription QoS: 1 (at least once, the default) or 0.' },
    {
      key: 'group',
      yaml: 'group',
      type: 'string',
      max: 128,
      pattern: { regex: /^[A-Za-z0-9_-]+$/, means: 'a share name (letters, digits, _ and -)' },
      description: 'The shared subscription group; one per namespace and trigger when absent.',
    },
    FORMAT_FIELD,
    ...DELIVERY_FIELDS,
  ],
  check(t) {
    const topic = t.topic as string;
    if (/#./.test(topic) || topic.split('/').some((level) => level.length > 1 && /[+#]/.test(level)))
      return `mqtt trigger topic ${JSON.stringify(topic)}: "+" and "#" must fill a whole level, and "#" only the last`;
    return undefined;
  },
  runtime: 'consumer',
  identity: (t) => [t.url ?? '', t.topic, t.group ?? ''],
  load: () => import('./consumer').then((m) => m.sourceModule),
};
