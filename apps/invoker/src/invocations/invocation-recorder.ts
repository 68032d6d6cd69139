import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { EventNames, InvocationMetadata, newEvent, PlatformEvent } from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
import { functionContract } from '@platform/runtimes';
import type { InvocationOutcome } from './outcome';

/** Payloads, responses and logs above this are cut, with a marker saying how much was cut. */
export const EVENT_FIELD_LIMIT = 64 * 1024;
/** Events are handed to the broker in small batches: one wake-up of the broker for many invocations. */
const FLUSH_MS = 25;
const FLUSH_AT = 256;

export type Trigger = NonNullable<InvocationMetadata['trigger']>;

export interface InvocationFacts {
  functionId: string;
  version: number;
  deploymentId: string;
  invocationId: string;
  trigger: Trigger;
  /** The request as the handler saw it; set by pending() so the result event carries it too. */
  input?: unknown;
  inputBytes?: number;
  /** `input` as an event field (cut when large): built once, for the pending event, and reused by the result's. */
  payload?: unknown;
}

function boundedText(text: string): string {
  return text.length <= EVENT_FIELD_LIMIT ? text : `${text.slice(0, EVENT_FIELD_LIMIT)}\n...[truncated: ${text.length} characters in all]`;
}

/** A value for an event field; `approxBytes` (the request's size) spares serialising small ones to measure them. */
function boundedValue(value: unknown, approxBytes: number): unknown {
  if (approxBytes <= EVENT_FIELD_LIMIT / 2) return value;
  const text = JSON.stringify(value) ?? 'null';
  return text.length <= EVENT_FIELD_LIMIT ? value : boundedText(text);
}

function responseOf(o: InvocationOutcome): unknown {
  if (o.json && o.body.length <= EVENT_FIELD_LIMIT) {
    try {
      return JSON.parse(o.body.toString('utf8'));
    } catch {
      // Not JSON after all: recorded as an HTTP response below.
    }
  }
  const contentType = String(o.headers['content-type'] ?? '');
  const text = functionContract.bodyIsText(contentType, o.body);
  return {
    statusCode: o.statusCode,
    headers: o.headers,
    body: boundedText(o.body.toString(text ? 'utf8' : 'base64')),
    isBase64Encoded: !text,
  };
}

/**
 * invocation.pending when an invocation starts, invocation.succeeded|failed when it ends. Built off the
 * answer's path and handed to the publisher in batches every few milliseconds, never awaited: the
 * answer does not wait for the broker, and the publisher spools what the broker does not confirm.
 */
@Injectable()
export class InvocationRecorder implements BeforeApplicationShutdown {
  private batch: Array<() => PlatformEvent> = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly publisher: EventPublisher) {}

  pending(f: InvocationFacts, input: unknown, approxBytes: number): void {
    f.input = input;
    f.inputBytes = approxBytes;
    const timestamp = new Date().toISOString();
    this.add(() =>
      newEvent({
        name: EventNames.InvocationPending,
        type: 'FUNCTION_INVOCATION',
        status: 'PENDING',
        source: 'invoker',
        timestamp,
        functionId: f.functionId,
        invocationId: f.invocationId,
        payload: (f.payload = boundedValue(input, approxBytes)),
        metadata: { trigger: f.trigger, version: f.version, deploymentId: f.deploymentId },
      }),
    );
  }

  finished(f: InvocationFacts, o: InvocationOutcome, durationMs: number): void {
    const timestamp = new Date().toISOString();
    this.add(() => {
      const failed = o.error !== undefined;
      const metadata: InvocationMetadata & Record<string, unknown> = {
        coldStart: o.coldStart,
        startMs: o.startMs,
        workerId: o.workerId,
        logs: boundedText(o.logs),
        trigger: f.trigger,
        version: f.version,
        reason: o.reason,
        statusCode: o.statusCode,
        deploymentId: f.deploymentId,
      };
      return newEvent({
        name: failed ? EventNames.InvocationFailed : EventNames.InvocationSucceeded,
        type: 'FUNCTION_INVOCATION',
        status: failed ? 'FAILURE' : 'SUCCESS',
        source: 'invoker',
        timestamp,
        functionId: f.functionId,
        invocationId: f.invocationId,
        // The result stands on its own: request and response side by side.
        // Batches are built in order, so the pending event's builder has set f.payload by now.
        payload: f.input === undefined ? null : (f.payload ??= boundedValue(f.input, f.inputBytes ?? 0)),
        response: responseOf(o),
        processingTimeMs: Math.round(durationMs * 1000) / 1000,
        error: o.error ?? null,
        metadata,
      });
    });
  }

  private add(build: () => PlatformEvent): void {
    this.batch.push(build);
    if (this.batch.length >= FLUSH_AT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    this.publisher.emitMany(batch.map((build) => build()));
  }

  /** Before the publisher closes: what is batched still goes out (or into its spool). */
  beforeApplicationShutdown(): void {
    this.flush();
  }
}
