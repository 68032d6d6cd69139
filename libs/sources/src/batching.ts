import { createHash } from 'crypto';
import { PlainMessage } from './cloudevent';
import { DELIVERY_FIELDS } from './delivery';
import { eventsOf } from './message';
import type { SourceContext, SourceEvent } from './types';

const DEFAULT_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 30_000;

function defaultOf(key: string): number {
  return DELIVERY_FIELDS.find((f) => f.key === key)?.default as number;
}

export interface BatchSettings {
  /** Messages in one batch at most (trigger.batchSize). */
  size: number;
  /** How long a batch waits to fill once its first message came (trigger.maxBatchWaitMs). */
  waitMs: number;
}

/** A trigger's batchSize and maxBatchWaitMs, with the defaults of the delivery fields. */
export function batchSettings(trigger: Record<string, unknown>): BatchSettings {
  return {
    size: typeof trigger.batchSize === 'number' ? trigger.batchSize : defaultOf('batchSize'),
    waitMs: typeof trigger.maxBatchWaitMs === 'number' ? trigger.maxBatchWaitMs : defaultOf('maxBatchWaitMs'),
  };
}

/** The first pause after a rejected deliver (the platform's TRIGGER_RETRY_DELAY_MS). */
export function retryDelayOf(ctx: SourceContext): number {
  return ctx.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
}

/** Pauses that double from `first` up to 30 s: how long to wait before the next try of a rejected deliver. */
export class Backoff {
  private next: number;

  constructor(private readonly first: number) {
    this.next = first;
  }

  delay(): number {
    const d = this.next;
    this.next = Math.min(Math.max(this.next * 2, 1), Math.max(MAX_RETRY_DELAY_MS, this.first));
    return d;
  }
}

/** Stop of a consumer as a signal: sleeps end early when it stops. */
export class StopSignal {
  stopped = false;
  private readonly waiters = new Set<() => void>();

  stop(): void {
    this.stopped = true;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Waits `ms`, or less when stopped meanwhile; resolves true when stopped. */
  sleep(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.stopped);
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

/**
 * Collects items into batches: a batch is handed over when it holds `size` items, or `waitMs` after its first
 * item came. Batches are handled one after the other, in order (acknowledgements stay in order).
 */
export class Batcher<T> {
  private pending: T[] = [];
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly settings: BatchSettings,
    private readonly handle: (batch: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.settings.size) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.settings.waitMs);
  }

  /** Hands over what is pending now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.queued++;
    this.chain = this.chain
      .then(() => this.handle(batch))
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.queued--;
      });
  }

  /** Batches handed over and not yet handled, the one being handled included. */
  get backlog(): number {
    return this.queued;
  }

  /** Removes and returns the items not yet handed over (at a stop: they go back to the source). */
  takePending(): T[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.pending;
    this.pending = [];
    return items;
  }

  /** Resolves once every batch handed over so far is handled. */
  async idle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain;
      if (chain === this.chain) return;
    }
  }

  /** Resolves once at most `n` batches wait or run (backpressure for consumers that pull). */
  async room(n = 1): Promise<void> {
    while (this.queued > n) await this.chain;
  }
}

/**
 * The events of one message (see eventsOf). A message that cannot become any (format "s3" and not a notification)
 * is logged and gives none: it is acknowledged, since it never will.
 */
export function messageEvents(m: PlainMessage, ctx: SourceContext): SourceEvent[] {
  try {
    return eventsOf(m, ctx.trigger);
  } catch (err) {
    ctx.logger.error(`${ctx.label}: ${(err as Error).message}; the message is dropped`);
    return [];
  }
}

/** A short stable hash of some parts (for ids made of a message's content). */
export function hashOf(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p) : p;
    h.update(`${b.length}:`).update(b);
  }
  return h.digest('hex').slice(0, 32);
}

/** An error's message, for logs. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `promise`, or a rejection with `message` when it has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
