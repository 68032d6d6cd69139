import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ALL_EVENTS_BINDING, PlatformCloudEvent, PlatformEvent, toCloudEvent, UnavailableError } from '@platform/contracts';
import { EventSubscriber } from '@platform/messaging';

export interface StreamFilter {
  functionId?: string;
  type?: string;
  status?: string;
}

interface StreamClient {
  res: Response;
  filter: StreamFilter;
}

const HEARTBEAT_MS = 15_000;
/** A client that reads slower than events come is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * Server-Sent Events of every new event, in the bus's format: each frame's `data` is the CloudEvent
 * (JSON), `id` the event id and `event` the CloudEvent type (`dev.hks.invocation.succeeded`, or a
 * custom event's own type). One broadcast subscription on "#" per gateway process,
 * opened when the first client connects so a gateway nobody streams from does not consume every event.
 */
@Injectable()
export class EventStreamService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(EventStreamService.name);
  private readonly clients = new Set<StreamClient>();
  private subscribed?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;

  constructor(private readonly subscriber: EventSubscriber) {}

  async open(res: Response, filter: StreamFilter): Promise<void> {
    try {
      await this.subscribe();
    } catch (err) {
      this.subscribed = undefined;
      throw new UnavailableError(`the event stream is unavailable: ${(err as Error).message}`);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    const client = { res, filter };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
  }

  private subscribe(): Promise<void> {
    this.subscribed ??= this.subscriber
      .subscribe({
        queue: 'gateway.stream',
        broadcast: true,
        bindings: [ALL_EVENTS_BINDING],
        batchSize: 50,
        batchWaitMs: 10,
        handler: (events) => this.fanOut(events),
      })
      .then(() => {
        this.heartbeat = setInterval(() => this.each((c) => c.res.write(': ping\n\n')), HEARTBEAT_MS);
        this.heartbeat.unref();
      });
    return this.subscribed;
  }

  private fanOut(events: PlatformEvent[]): void {
    if (!this.clients.size) return;
    const frames = events.map((e) => {
      const ce = toCloudEvent(e);
      return { e, ce, frame: `id: ${e.id}\nevent: ${ce.type}\ndata: ${JSON.stringify(ce)}\n\n` };
    });
    this.each((c) => {
      for (const { e, ce, frame } of frames) if (matches(e, ce, c.filter)) c.res.write(frame);
      if (c.res.writableLength > MAX_BUFFERED_BYTES) {
        this.logger.warn('an event stream client reads too slowly; closing its stream');
        c.res.end();
        this.clients.delete(c);
      }
    });
  }

  private each(fn: (c: StreamClient) => void): void {
    for (const c of this.clients) fn(c);
  }

  /** Open streams would keep the HTTP server from closing. */
  beforeApplicationShutdown(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.each((c) => c.res.end());
    this.clients.clear();
  }
}

/** `type` is the event's type as stored (FUNCTION_INVOCATION, ORDER_PLACED) or its CloudEvent type (dev.hks.invocation.failed). */
function matches(e: PlatformEvent, ce: PlatformCloudEvent, f: StreamFilter): boolean {
  return (!f.functionId || e.functionId === f.functionId) && (!f.type || e.type === f.type || ce.type === f.type) && (!f.status || e.status === f.status);
}
