import { Inject, Injectable, Logger } from '@nestjs/common';
import express from 'express';
import type { IncomingMessage, ServerResponse } from 'http';
import {
  binaryCloudEventAttributes,
  CLOUDEVENT_BATCH_MEDIA_TYPE,
  CLOUDEVENT_MEDIA_TYPE,
  CreateEventDto,
  ErrorBody,
  MAX_POSTED_BATCH,
  PlatformEvent,
  postedEvent,
  PostedEventError,
  readPostedCloudEvent,
  ValidationError,
} from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventPublisher, toErrorBody, validatePayload } from '@platform/messaging';
import { FunctionAuthCache } from '../access/function-auth.cache';
import { ADMIN_ONLY, GatewayAccess, sendError } from '../access/gateway-access';
import { bodyProblem, verifyJsonBody, verifyTextBody } from '../access/request-text';
import { GatewaySettingsValues } from '../settings';

export const EVENTS_PATH = '/api/v3/events';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type Mode = 'json' | 'structured' | 'batch' | 'binary';

const mediaType = (req: IncomingMessage) => (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
const hasBody = (req: IncomingMessage) => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

/**
 * POST /api/v3/events, answered before Express like the invocation proxy: the admin key and the rate limit of
 * GatewayAccess, the body read by the same parser Express uses, then the event validated, given its id and time,
 * and published to the event bus. The answer (201) waits for the broker's confirm, or for the publisher's spool
 * when the broker does not confirm in time: the event is durable either way, and the event store stores it from
 * the bus (by id, so never twice) within the ingest lag. Event triggers see it on the bus as before.
 *
 * Bodies: the platform's JSON form (CreateEventDto), a CloudEvent in structured mode, one in binary mode (ce-*
 * headers), or a batch of CloudEvents (all or none, at most MAX_POSTED_BATCH).
 */
@Injectable()
export class PostedEventsRoute {
  private readonly logger = new Logger(PostedEventsRoute.name);
  private readonly strictJson: Middleware;
  private readonly anyJson: Middleware;
  private readonly text: Middleware;
  private readonly maxBytes: number;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly access: GatewayAccess,
    private readonly functions: FunctionAuthCache,
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
  ) {
    this.maxBytes = settings.GATEWAY_MAX_BODY_BYTES;
    const limit = settings.GATEWAY_MAX_BODY_BYTES;
    this.strictJson = express.json({ limit, type: () => true, verify: verifyJsonBody }) as unknown as Middleware;
    this.anyJson = express.json({ limit, type: () => true, strict: false, verify: verifyJsonBody }) as unknown as Middleware;
    this.text = express.text({ limit, type: () => true, verify: verifyTextBody }) as unknown as Middleware;
  }

  /** True when the request is a POST of events (exactly this path, any query) and has been taken care of. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    if (url !== EVENTS_PATH && !url.startsWith(`${EVENTS_PATH}?`)) return false;
    void this.serve(req, res);
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = await this.access.authenticate(req);
    if (!auth.ok) return this.refuse(req, res, auth.body, auth.headers);
    if (auth.principal.scope !== 'admin') return this.refuse(req, res, ADMIN_ONLY);
    const limited = await this.access.limit(req, auth.principal);
    if (limited) return this.refuse(req, res, limited.body, limited.headers);

    const mode = modeOf(req);
    if (!mode) {
      const type = mediaType(req);
      return this.refuse(req, res, {
        statusCode: 400,
        error: 'Bad Request',
        message:
          `Send the event as JSON (content-type: application/json), as a CloudEvent (${CLOUDEVENT_MEDIA_TYPE}, or ce-* headers in binary mode) ` +
          `or as a batch of CloudEvents (${CLOUDEVENT_BATCH_MEDIA_TYPE}); this body is ${type ? type : 'without a content type'}`,
      });
    }
    let body: unknown;
    try {
      body = await this.read(req, res, mode);
    } catch (err) {
      return sendError(res, bodyProblem(err, this.maxBytes));
    }
    try {
      const events = this.eventsOf(req, mode, body);
      await this.publish(events);
      const text = JSON.stringify(mode === 'batch' ? events : events[0]);
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    } catch (err) {
      const body = errorOf(err);
      if (body.statusCode >= 500) this.logger.warn(body.message);
      sendError(res, body);
    }
  }

  private refuse(req: IncomingMessage, res: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
    sendError(res, body, headers);
    req.resume();
  }

  private read(req: IncomingMessage, res: ServerResponse, mode: Mode): Promise<unknown> {
    if (!hasBody(req)) {
      req.resume();
      return Promise.resolve(undefined);
    }
    const type = mediaType(req);
    const parser = mode !== 'binary' ? this.strictJson : type === 'application/json' || type.endsWith('+json') ? this.anyJson : this.text;
    return new Promise((resolve, reject) =>
      parser(req, res, (err) => (err ? reject(err as Error) : resolve((req as IncomingMessage & { body?: unknown }).body))),
    );
  }

  /** Every event of the request, validated (all of a batch, or none), as it will be published. */
  private eventsOf(req: IncomingMessage, mode: Mode, body: unknown): PlatformEvent[] {
    switch (mode) {
      case 'json': {
        if (Array.isArray(body)) throw new ValidationError('The request body must be a JSON object, not an array');
        const dto = validatePayload(CreateEventDto, body ?? {});
        return [postedEvent(dto)];
      }
      case 'structured':
        return [postedEvent(cloudEvent(() => readPostedCloudEvent(body)))];
      case 'binary': {
        const attributes = cloudEvent(() => binaryCloudEventAttributes(req.headers) ?? {});
        const type = mediaType(req);
        // Text as it came; JSON parsed, so the payload is the value (text/* and JSON are all the parser reads).
        const data = body === undefined ? null : body;
        if (body !== undefined && !(type === 'application/json' || type.endsWith('+json') || type.startsWith('text/')))
          throw new ValidationError(
            `In binary mode the body must be JSON or text (content-type application/json or text/*), not ${type || 'without a content type'}`,
          );
        return [postedEvent(cloudEvent(() => readPostedCloudEvent({ ...attributes, data })))];
      }
      case 'batch':
        return batchOf(body);
    }
  }

  private async publish(events: PlatformEvent[]): Promise<void> {
    const ids = [...new Set(events.flatMap((e) => (e.functionId ? [e.functionId] : [])))];
    if (ids.length) {
      const labels = new Map(await Promise.all(ids.map(async (id) => [id, await this.labelOf(id)] as const)));
      for (const e of events) if (e.functionId) e.functionLabel = labels.get(e.functionId) ?? null;
    }
    try {
      await this.publisher.publishMany(events);
    } finally {
      // The label only travels on the bus (routing key, subject); the answer is the event as the store keeps it.
      for (const e of events) delete e.functionLabel;
    }
  }

  /**
   * The function's label for the routing key. A function the registry does not know, or cannot tell about right now,
   * gets none: its event is routed as concerning no function rather than refused or delayed.
   */
  private async labelOf(functionId: string): Promise<string | null> {
    try {
      const access = await this.functions.accessOf(functionId);
      return access.known ? access.label : null;
    } catch (err) {
      this.logger.warn(`no label for function ${functionId} (${(err as Error).message}); its event is routed as concerning no function`);
      return null;
    }
  }
}

function modeOf(req: IncomingMessage): Mode | undefined {
  const type = mediaType(req);
  if (type === CLOUDEVENT_BATCH_MEDIA_TYPE) return 'batch';
  if (type === CLOUDEVENT_MEDIA_TYPE) return 'structured';
  if (req.headers['ce-specversion'] !== undefined) return 'binary';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  // No body and no type: the JSON form's validation says what is missing.
  if (!type && !hasBody(req)) return 'json';
  return undefined;
}

/** A CloudEvent read, its problem as a 400 that names it. */
function cloudEvent<T>(read: () => T, where = 'The CloudEvent'): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof PostedEventError) throw new ValidationError(`${where} is refused: ${err.reason}`);
    throw err;
  }
}

function batchOf(body: unknown): PlatformEvent[] {
  if (!Array.isArray(body)) throw new ValidationError(`A ${CLOUDEVENT_BATCH_MEDIA_TYPE} body must be a JSON array of CloudEvents`);
  if (body.length === 0) throw new ValidationError('The batch is empty: send at least one CloudEvent');
  if (body.length > MAX_POSTED_BATCH)
    throw new ValidationError(`A batch holds at most ${MAX_POSTED_BATCH} CloudEvents (this one has ${body.length}); split it into several posts`);
  const events = body.map((ce, i) => postedEvent(cloudEvent(() => readPostedCloudEvent(ce), `Event ${i} of the batch`)));
  const seen = new Map<string, number>();
  events.forEach((e, i) => {
    const first = seen.get(e.id);
    if (first !== undefined) throw new ValidationError(`Event ${i} of the batch is refused: it has the same source and id as event ${first}`);
    seen.set(e.id, i);
  });
  return events;
}

function errorOf(err: unknown): ErrorBody {
  const body = toErrorBody(err);
  if (body.statusCode < 500) return body;
  return { statusCode: 503, error: 'Service Unavailable', message: `the event could not be recorded: ${(err as Error).message ?? String(err)}` };
}
