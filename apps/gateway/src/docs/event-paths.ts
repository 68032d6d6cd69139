import { getSchemaPath, OpenAPIObject, OperationObject, ParameterObject, SchemaObject } from '@nestjs/swagger';
import {
  ANY_JSON,
  CLOUDEVENT_BATCH_MEDIA_TYPE,
  CLOUDEVENT_MEDIA_TYPE,
  CreateEventDto,
  EVENT_STATUSES,
  MAX_POSTED_BATCH,
  PlatformEvent,
} from '@platform/contracts';
import { EVENTS_PATH } from '../events/posted-events.route';
import { errorResponse, ErrorList, ErrorStatus, MANAGEMENT_ERRORS } from './api-errors';

/** A CloudEvent 1.0 as POST /api/v3/events reads it (structured mode, and each item of a batch). */
const POSTED_CLOUDEVENT: SchemaObject = {
  type: 'object',
  required: ['specversion', 'id', 'source', 'type'],
  properties: {
    specversion: { type: 'string', enum: ['1.0'] },
    id: {
      type: 'string',
      minLength: 1,
      description: 'With source, identifies the event: a UUID is the event id; any other id becomes a UUIDv5 of source and id, so a retry is stored once',
    },
    source: { type: 'string', minLength: 1, maxLength: 200, description: 'URI reference of the producer' },
    type: { type: 'string', maxLength: 128, example: 'com.shop.order.placed', description: 'A custom type, as in the JSON form' },
    time: { type: 'string', format: 'date-time', description: 'RFC 3339; the time of the post when absent' },
    subject: { type: 'string' },
    dataschema: { type: 'string' },
    datacontenttype: { type: 'string', example: 'application/json' },
    data: { ...ANY_JSON, description: "Any JSON value: the event's payload" },
    functionid: { type: 'string', format: 'uuid', description: 'Extension: the function this event concerns' },
    status: { type: 'string', enum: [...EVENT_STATUSES], default: 'SUCCESS', description: 'Extension: the event status' },
  },
  additionalProperties: {
    description: 'Other extensions (lowercase letters and digits), kept in metadata.cloudEvent',
    anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }],
  },
  example: { specversion: '1.0', id: 'order-42', source: 'https://shop.example/orders', type: 'com.shop.order.placed', data: { orderId: 42 } },
};

const ERRORS: ErrorList = {
  ...MANAGEMENT_ERRORS,
  400:
    'Invalid input: the message names the field, or for a batch the index of the first refused CloudEvent and why; ' +
    'also a body that is not JSON, or of a content type this route does not read',
  413: true,
  503: 'RabbitMQ did not confirm the event and it could not be spooled either, or the API key could not be checked',
};

const binaryHeader = (name: string, description: string): ParameterObject => ({
  name: `ce-${name}`,
  in: 'header',
  required: false,
  description: `Binary mode: ${description}`,
  schema: { type: 'string' },
});

function createEvent(): OperationObject {
  return {
    tags: ['events'],
    operationId: 'createEvent',
    summary: 'Record an event (or a batch of CloudEvents); functions with an event trigger of its type run',
    description:
      'The event is given its id and time, validated, and published to the event bus; the answer comes once RabbitMQ has confirmed it ' +
      '(or, when RabbitMQ does not confirm within EVENT_PUBLISH_TIMEOUT_MS, once the gateway has spooled it to disk for replay). ' +
      'The event store stores it from the bus, by id, so never twice: it is queryable (GET /api/v3/events/{id}) within the ingest lag, ' +
      'usually milliseconds, not necessarily at the moment of the answer; while the event store is down, events wait on the bus. ' +
      'Four bodies: the JSON form (application/json, CreateEventDto); a CloudEvent 1.0 in structured mode ' +
      `(${CLOUDEVENT_MEDIA_TYPE}); a CloudEvent in binary mode (the attributes as ce-* headers, ce-specversion: 1.0, and the data as the body: ` +
      `JSON or text); a batch (${CLOUDEVENT_BATCH_MEDIA_TYPE}: a JSON array of 1 to ${MAX_POSTED_BATCH} CloudEvents, all accepted or all refused, ` +
      'answered with the array of events in the same order).',
    parameters: [
      binaryHeader('specversion', '1.0; its presence selects binary mode'),
      binaryHeader('id', 'the CloudEvent id'),
      binaryHeader('source', 'the CloudEvent source'),
      binaryHeader('type', 'the event type'),
      binaryHeader('time', 'RFC 3339 time'),
      binaryHeader('functionid', 'the function this event concerns (UUID)'),
      binaryHeader('status', EVENT_STATUSES.join(', ')),
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: { $ref: getSchemaPath(CreateEventDto) } },
        [CLOUDEVENT_MEDIA_TYPE]: { schema: POSTED_CLOUDEVENT },
        [CLOUDEVENT_BATCH_MEDIA_TYPE]: { schema: { type: 'array', minItems: 1, maxItems: MAX_POSTED_BATCH, items: POSTED_CLOUDEVENT } },
        'text/plain': { schema: { type: 'string', description: 'Binary mode only (with ce-* headers): the payload as text' } },
      },
    },
    responses: {
      201: {
        description: 'The event as recorded (for a batch, the array of events in the order posted)',
        content: {
          'application/json': {
            schema: { oneOf: [{ $ref: getSchemaPath(PlatformEvent) }, { type: 'array', items: { $ref: getSchemaPath(PlatformEvent) } }] },
          },
        },
      },
      ...Object.fromEntries(
        Object.entries(ERRORS).map(([status, said]) => [status, errorResponse(Number(status) as ErrorStatus, said === true ? undefined : said)]),
      ),
    },
  };
}

/** POST /api/v3/events is answered by PostedEventsRoute before Express routes anything, so the scanner cannot see it. */
export function addEventPaths(doc: OpenAPIObject): void {
  doc.paths[EVENTS_PATH] = { ...doc.paths[EVENTS_PATH], post: createEvent() };
}
