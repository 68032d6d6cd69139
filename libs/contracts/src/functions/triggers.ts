import type { RetryOverride } from '../invocations/async-invocation';

/*
 * The triggers' types. Their schemas, validation, function.yaml keys and docs come from the event sources'
 * descriptors (@platform/sources: one folder per kind); these interfaces only type the code that reads them.
 */

/** The delivery settings every message-queue source has. */
export interface DeliverySettings {
  batchSize?: number;
  maxBatchWaitMs?: number;
  deliver?: 'each' | 'batch';
  retry?: RetryOverride;
  resultTopic?: string;
  errorTopic?: string;
  /** "s3": each message is an S3 bucket notification. */
  format?: 'message' | 's3';
}

export interface HttpTrigger {
  type: 'http';
  methods?: string[];
  path?: string;
  auth?: 'none' | 'api-key' | 'required';
}

export interface QueueTrigger extends DeliverySettings {
  type: 'queue' | 'rabbitmq' | 'amqp';
  source?: string;
  url?: string;
  exchange?: string;
  bindingKey?: string;
}

export interface NatsTrigger extends DeliverySettings {
  type: 'nats';
  subject: string;
  url?: string;
  stream?: string;
  durable?: string;
  ackWaitMs?: number;
}

export interface MqttTrigger extends DeliverySettings {
  type: 'mqtt';
  topic: string;
  url?: string;
  qos?: 0 | 1;
  group?: string;
}

export interface KafkaTrigger extends DeliverySettings {
  type: 'kafka';
  brokers: string[];
  topics: string[];
  group?: string;
  fromBeginning?: boolean;
  tls?: boolean;
  saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  saslSecret?: string;
}

export interface S3Trigger extends Omit<DeliverySettings, 'format'> {
  type: 's3' | 'storage';
  bucket: string;
  events?: string[];
  prefix?: string;
  suffix?: string;
  mode?: 'webhook' | 'poll';
  endpoint?: string;
  region?: string;
  credentialsSecret?: string;
  pollIntervalMs?: number;
  forcePathStyle?: boolean;
}

export interface ScheduleTrigger {
  type: 'schedule' | 'cron';
  cron: string;
  timezone?: string;
  data?: unknown;
}

export interface EventTrigger {
  type: 'event' | 'custom';
  eventType: string;
  retry?: RetryOverride;
}

export type Trigger = HttpTrigger | QueueTrigger | NatsTrigger | MqttTrigger | KafkaTrigger | S3Trigger | ScheduleTrigger | EventTrigger;
