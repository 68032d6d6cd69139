import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ALL_EVENTS_BINDING, EVENT_LOG_QUEUE } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventSubscriber } from '@platform/messaging';
import { SpanKind } from '@opentelemetry/api';
import { extractContext, LATENCY_BUCKETS, ServiceMetrics, tracer } from '@platform/observability';
import type { Counter, Histogram } from 'prom-client';
import { admitEvent, EventRow, RejectedEvent } from '../storage/event-row';
import { EventWriter } from '../storage/event-writer';
import { EventStoreSettingsValues } from '../settings';

/** Durable queue (namespaced by the subscriber) shared by every event-store replica. */
export const INGEST_QUEUE = EVENT_LOG_QUEUE;

/**
 * Consumes every event on the exchange and stores it. The subscriber acks a batch only after
 * `storeBatch` resolves, i.e. after COMMIT; when it throws (database down), the subscriber waits
 * and requeues the whole batch, so nothing is lost and redeliveries are absorbed by the primary key.
 */
@Injectable()
export class EventIngest implements OnApplicationBootstrap {
  private readonly logger = new Logger(EventIngest.name);
  /** Why the last batch failed, while failures go on; cleared by the next commit. */
  private failing: string | null = null;
  private readonly lag: Histogram;
  private readonly stored: Counter<'result'>;

  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly writer: EventWriter,
    @Inject(SETTINGS) private readonly settings: EventStoreSettingsValues,
    metrics: ServiceMetrics,
  ) {
    this.lag = metrics.histogram({
      name: 'hks_event_ingest_lag_seconds',
      help: "From an event's timestamp to its row committed in the event store (an event posted with an old timestamp counts as late)",
      buckets: [...LATENCY_BUCKETS, 60, 300],
    });
    this.stored = metrics.counter({
      name: 'hks_events_ingested_total',
      help: 'Events taken from the exchange, by result: stored, duplicate (already stored, redelivered), rejected (invalid, kept aside)',
      labelNames: ['result'],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const batchSize = this.settings.EVENT_STORE_BATCH_SIZE;
    await this.subscriber.subscribe({
      queue: INGEST_QUEUE,
      bindings: [ALL_EVENTS_BINDING],
      batchSize,
      batchWaitMs: this.settings.EVENT_STORE_BATCH_WAIT_MS,
      // Two batches in the handler at once: the next one is read and sent while the previous one
      // commits (Postgres and this process then work at the same time). Three batches of prefetch,
      // so a third fills meanwhile.
      concurrency: 2,
      prefetch: batchSize * 3,
      handler: (events) => this.storeBatch(events),
    });
  }

  /**
   * The subscriber can hand over more than a batch (the broker client delivers a socket read's
   * worth of messages at once), so the messages are stored EVENT_STORE_BATCH_SIZE at a time. If a
   * later chunk fails, all are requeued; the chunks already committed come back as duplicates.
   */
  async storeBatch(messages: unknown[]): Promise<void> {
    const size = this.settings.EVENT_STORE_BATCH_SIZE;
    for (let i = 0; i < messages.length; i += size) await this.storeChunk(messages.slice(i, i + size));
  }

  /** Validates each message, then stores the good ones and the rejected ones in one transaction. */
  private async storeChunk(messages: unknown[]): Promise<void> {
    const rows: EventRow[] = [];
    const rejected: RejectedEvent[] = [];
    for (const message of messages) {
      const admission = admitEvent(message);
      if ('row' in admission) rows.push(admission.row);
      else rejected.push(admission.rejected);
    }
    const started = Date.now();
    try {
      const result = await this.writer.store(rows, rejected);
      this.traceStored(messages, started);
      const now = Date.now();
      for (const row of rows) this.lag.observe(Math.max(0, now - Date.parse(row.timestamp)) / 1000);
      this.stored.inc({ result: 'stored' }, rows.length - (result.duplicates ?? 0));
      if (result.duplicates) this.stored.inc({ result: 'duplicate' }, result.duplicates);
      if (rejected.length) this.stored.inc({ result: 'rejected' }, rejected.length);
      for (const r of rejected) this.logger.error(`rejected event ${r.eventId ?? '(no id)'}: ${r.reason}; kept in events.rejected_events`);
      if (this.failing) this.logger.log(`storing events works again; ${messages.length} event(s) stored after the failure`);
      this.failing = null;
      if (result.duplicates) this.logger.debug(`${result.duplicates} event(s) were already stored (redelivered)`);
    } catch (err) {
      this.failing = (err as Error).message;
      this.logger.error(`storing ${messages.length} event(s) failed (${this.failing}); the batch stays queued and is retried`);
      throw err;
    }
  }

  /** A span, under the invocation's, for each invocation event stored (its metadata carries the trace). */
  private traceStored(messages: unknown[], startTime: number): void {
    for (const m of messages) {
      const e = m as { type?: unknown; status?: unknown; invocationId?: unknown; metadata?: { traceparent?: unknown } } | null;
      const traceparent = e?.metadata?.traceparent;
      if (typeof traceparent !== 'string') continue;
      tracer()
        .startSpan(
          'store event',
          {
            kind: SpanKind.CONSUMER,
            startTime,
            attributes: { 'hks.event.type': String(e!.type), 'hks.event.status': String(e!.status), 'faas.invocation_id': String(e!.invocationId) },
          },
          extractContext({ traceparent }),
        )
        .end();
    }
  }

  /** For readiness: throws while batches are failing. */
  check(): void {
    if (this.failing) throw new Error(`storing events fails (${this.failing}); batches are retried`);
  }
}
