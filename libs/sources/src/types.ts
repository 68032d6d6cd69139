import type { FieldSpec } from './fields';

/**
 * The event a handler gets from an event source: a CloudEvent (1.0, JSON format). Plain messages carry their body
 * as text in `data` (or base64 in `data_base64`); see docs/event-sources.md for each kind.
 */
export interface SourceEvent {
  specversion: '1.0';
  /** Unique per message of its source; the same on a redelivery where the system gives one (used to deduplicate). */
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  data?: unknown;
  data_base64?: string;
  /** CloudEvents extension attributes (lower-case alphanumeric names): kafkapartition, natsseq, ... */
  [extension: string]: unknown;
}

export interface SourceLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a consumer gets from the platform: its trigger, and where to hand the messages. */
export interface SourceContext {
  functionId: string;
  label: string;
  /** HKS_NAMESPACE: names of queues, groups and durables start with it, so two platforms can share a broker. */
  namespace: string;
  /** The trigger as configured (validated by its descriptor). */
  trigger: Record<string, unknown>;
  /** Stable id of the trigger within its function (triggerKey). */
  triggerKey: string;
  /** The platform's own RabbitMQ (RABBITMQ_URL): a queue trigger without a url consumes there. */
  platformAmqpUrl: string;
  /** The platform's NATS (NATS_URL): a nats trigger without a url connects there. */
  natsUrl?: string;
  /** The platform's MQTT broker (MQTT_URL): an mqtt trigger without a url connects there. */
  mqttUrl?: string;
  /**
   * Stable id of this deployer replica (e.g. its pod name): part of the MQTT client id, so a restarted replica
   * resumes its persistent session and gets back what it had not acknowledged. "0" when absent.
   */
  instanceId?: string;
  /** First pause before a rejected batch is tried again or put back (TRIGGER_RETRY_DELAY_MS); 1000 when absent. */
  retryDelayMs?: number;
  /**
   * Accepts the events as asynchronous invocations (deliver: each) or as one (deliver: batch); resolves once they
   * are committed. Only then may the consumer acknowledge the messages. It rejects when they could not be accepted
   * (the database down, the function's queue full): the messages must then come back later (nack, no commit).
   */
  deliver(events: SourceEvent[]): Promise<void>;
  /** A small durable store of the trigger's own (e.g. a poller's watermark), shared by the deployer replicas. */
  state: SourceState;
  /** A stored secret's keys (for credentials: credentialsSecret, saslSecret); rejects when there is none. */
  secret(name: string): Promise<Record<string, string>>;
  logger: SourceLogger;
}

export interface SourceState {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

export interface SourceConsumer {
  /** Connects and starts consuming; rejects with a clear message when the source refuses (bad URL, no such stream). */
  start(): Promise<void>;
  /** Stops consuming: a deliver in progress finishes (and is acknowledged), messages not yet delivered go back. */
  stop(): Promise<void>;
}

/** A result or error published to a trigger's resultTopic / errorTopic. */
export interface TopicMessage {
  invocationId: string;
  functionId: string;
  status: string;
  /** The function's answer (succeeded), else null. */
  result: unknown;
  error: string | null;
  /** The id of the event that made the invocation. */
  eventId: string | null;
}

/** Where publish finds the platform's own brokers (for a trigger without a url), and the credentials it names. */
export type PublishContext = Pick<SourceContext, 'namespace' | 'platformAmqpUrl' | 'natsUrl' | 'mqttUrl'> & Partial<Pick<SourceContext, 'secret'>>;

/** What a consumer-kind source's module (its consumer.ts) exports. */
export interface SourceModule {
  create(ctx: SourceContext): SourceConsumer;
  /** Publishes to a topic/queue/subject of the same system as the trigger (for resultTopic and errorTopic). */
  publish?(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void>;
  /** Closes what publish keeps open (at shutdown). */
  close?(): Promise<void>;
}

/** Where a kind's events come from, for the wiring. */
export type SourceRuntime =
  /** The gateway serves it (http). */
  | 'gateway'
  /** The deployer's scheduler (schedule). */
  | 'scheduler'
  /** The platform's event bus (custom events). */
  | 'bus'
  /** A consumer the deployer runs while the function is deployed (queue, nats, mqtt, kafka, s3). */
  | 'consumer';

/** One kind of event source: everything the platform knows about it comes from here. */
export interface SourceDescriptor {
  /** The trigger's `type`. */
  kind: string;
  /** Other `type` values meaning the same kind (e.g. rabbitmq, amqp for queue). */
  aliases?: string[];
  /** One line for the docs and the OpenAPI description. */
  summary: string;
  /** Markdown: how it is configured and what it guarantees. */
  docs: string;
  /** Markdown: the event the handler gets. */
  eventShape: string;
  /** An example trigger (API form) for the OpenAPI document and the docs. */
  example: Record<string, unknown>;
  /** An example in function.yaml form (the lines under `triggers:`). */
  yamlExample: string;
  fields: FieldSpec[];
  /** Rules across fields (e.g. queue or exchange); undefined when fine. */
  check?(trigger: Record<string, unknown>): string | undefined;
  runtime: SourceRuntime;
  /** What identifies the trigger within its function (its key is a hash of these): the address it consumes. */
  identity(trigger: Record<string, unknown>): unknown[];
  /** consumer kinds: loads the consumer module (kept out of the API and CLI, which only validate). */
  load?(): Promise<SourceModule>;
  /** True when nothing here can test it against a real server (Kafka: no broker installable); said in the docs. */
  untested?: string;
}
