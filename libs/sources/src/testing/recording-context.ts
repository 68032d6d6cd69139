import { uniqueName, waitFor } from '@platform/testing';
import type { SourceContext, SourceEvent, SourceState } from '../types';

/**
 * A SourceContext for consumer tests: deliver records what it accepted, and can be told to reject the next calls
 * (the platform unable to accept) or to take its time (a deliver in progress at a stop).
 */
export class RecordingContext implements SourceContext {
  functionId = uniqueName('fn');
  label = 'test-function';
  namespace = uniqueName('hkst');
  triggerKey = uniqueName('k');
  platformAmqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  instanceId = '0';
  retryDelayMs = 100;
  /** Batches accepted, in order. */
  readonly accepted: SourceEvent[][] = [];
  /** Every call of deliver, the rejected ones included. */
  readonly calls: { events: SourceEvent[]; rejected: boolean }[] = [];
  readonly logs: string[] = [];
  /** How many of the next deliver calls reject. */
  rejectNext = 0;
  /** How long deliver takes before it resolves. */
  deliverDelayMs = 0;
  readonly stateValues = new Map<string, unknown>();

  constructor(
    public trigger: Record<string, unknown>,
    overrides: Partial<SourceContext> = {},
  ) {
    Object.assign(this, overrides);
  }

  /** Deliver calls started and not yet settled. */
  inProgress = 0;

  async deliver(events: SourceEvent[]): Promise<void> {
    this.inProgress++;
    try {
      await this.settle(events);
    } finally {
      this.inProgress--;
    }
  }

  private async settle(events: SourceEvent[]): Promise<void> {
    if (this.deliverDelayMs) await new Promise((r) => setTimeout(r, this.deliverDelayMs));
    const rejected = this.rejectNext > 0;
    this.calls.push({ events, rejected });
    if (rejected) {
      this.rejectNext--;
      throw new Error('the platform cannot accept invocations now');
    }
    this.accepted.push(events);
  }

  state: SourceState = {
    get: <T>(key: string) => Promise.resolve(structuredClone(this.stateValues.get(key)) as T | undefined),
    set: (key: string, value: unknown) => {
      this.stateValues.set(key, structuredClone(value));
      return Promise.resolve();
    },
  };

  secrets: Record<string, Record<string, string>> = {};

  secret(name: string): Promise<Record<string, string>> {
    const s = this.secrets[name];
    return s ? Promise.resolve(s) : Promise.reject(new Error(`no secret ${name}`));
  }

  logger = {
    log: (m: string) => this.logs.push(`log: ${m}`),
    warn: (m: string) => this.logs.push(`warn: ${m}`),
    error: (m: string) => this.logs.push(`error: ${m}`),
  };

  /** Every event accepted so far, in order. */
  events(): SourceEvent[] {
    return this.accepted.flat();
  }

  /** Waits until at least `n` events were accepted. */
  async waitForEvents(n: number, timeoutMs = 10_000): Promise<SourceEvent[]> {
    return waitFor(() => this.events().length >= n && this.events(), { timeoutMs, what: `${n} accepted event(s)` });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
