import { getSchemaPath } from '@nestjs/swagger';
import type { HeadersObject, OpenAPIObject, OperationObject, ParameterObject, PathItemObject, ResponsesObject } from '@nestjs/swagger';
import {
  QUALIFIER_PATTERN_SOURCE,
  QUALIFIER_RULE,
  AcceptedInvocation,
  ANY_JSON,
  CALLBACK_URL_MAX_LENGTH,
  FUNCTION_URL_PREFIX,
  FUNCTIONS_PATH,
  FunctionRouteWords,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  InternalInvocationHeaders,
  InvocationHeaders,
  RESERVED_LABELS_NOTE,
} from '@platform/contracts';
import { ErrorList, ErrorStatus, errorResponse } from './api-errors';

/**
 * The invocation routes are answered by InvocationProxy before Express routes anything, so the scanner cannot see
 * them: they are described here. The proxy takes every method, so every method OpenAPI names is described.
 */
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;
type Method = (typeof METHODS)[number];

/** What the invoker says about every answer it gives, the handler's own included. */
const INVOCATION_HEADERS: HeadersObject = {
  [InvocationHeaders.InvocationId]: {
    schema: { type: 'string', format: 'uuid' },
    description: 'The invocation id: its events carry it (GET /api/v3/events?invocationId=...)',
  },
  [InvocationHeaders.ColdStart]: {
    schema: { type: 'string', enum: ['true', 'false'] },
    description: 'Whether a worker had to start (or load the function) for this invocation',
  },
  [InvocationHeaders.StartMs]: { schema: { type: 'string', example: '12' }, description: 'Milliseconds the cold start took; 0 when warm' },
  [InvocationHeaders.DurationMs]: { schema: { type: 'string', example: '3.214' }, description: 'Milliseconds the invoker spent on the invocation' },
  [InvocationHeaders.FunctionVersion]: {
    schema: { type: 'string', example: '2' },
    description: 'The version that answered: the one a qualifier named, or the one the traffic split chose',
  },
};

/** Which version runs: a qualifier (as in the path, {label}:{qualifier}), and who the caller is for sticky splits. */
const VERSION_PARAMETERS: ParameterObject[] = [
  {
    name: 'X-Function-Qualifier',
    in: 'header',
    required: false,
    description:
      'Run this version or alias (latest, a name set with PUT .../aliases/{alias}, or a version number) instead of following the traffic split; ' +
      'the same as {label}:{qualifier} in the path (as AWS Lambda qualifiers), which wins when both are given. ' +
      `${QUALIFIER_RULE[0].toUpperCase()}${QUALIFIER_RULE.slice(1)}; anything else is a 400. 404 for an alias or version not running. ` +
      "On /fn/, the http triggers of the version it names decide what needs a key (that version's auth, not the current config's); " +
      'without one, those of the version deployed, and under a split a path needs no key only if every version in it leaves it open',
    schema: { type: 'string', example: 'stable', pattern: QUALIFIER_PATTERN_SOURCE },
  },
  {
    name: 'X-Caller-Id',
    in: 'header',
    required: false,
    description:
      'Who calls, for a sticky split (PUT .../traffic with sticky: true): the same id always lands on the same version. Without it, the API key decides',
    schema: { type: 'string', maxLength: 200 },
  },
];

/** The 202 of an asynchronous invocation: where to follow it. */
const ACCEPTED_HEADERS: HeadersObject = {
  Location: { schema: { type: 'string', example: '/api/v1/invocations/4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93' }, description: 'GET it to follow the invocation' },
  'Preference-Applied': { schema: { type: 'string', enum: ['respond-async'] }, description: 'Sent when the request said Prefer: respond-async' },
  [InvocationHeaders.InvocationId]: { schema: { type: 'string', format: 'uuid' }, description: 'The invocation id (its events carry it once it runs)' },
};

/** What asks for an asynchronous invocation (any one of the first three), and shapes it. */
const ASYNC_PARAMETERS: ParameterObject[] = [
  {
    name: 'Prefer',
    in: 'header',
    required: false,
    description: 'respond-async (RFC 7240): answer 202 at once and run the invocation later, with retries (config.retry)',
    schema: { type: 'string', example: 'respond-async' },
  },
  {
    name: 'X-Invocation-Type',
    in: 'header',
    required: false,
    description: 'Event: asynchronous, as Prefer: respond-async; RequestResponse (the default): synchronous',
    schema: { type: 'string', enum: ['Event', 'RequestResponse'] },
  },
  {
    name: 'X-Callback-Url',
    in: 'header',
    required: false,
    description:
      'Asynchronous, and POST the outcome (InvocationCallbackBody) to this http(s) URL when it ends, signed per Standard Webhooks ' +
      `(webhook-signature "v1a,...", verify with GET /api/v1/invocations/callback-key); at most ${CALLBACK_URL_MAX_LENGTH} characters`,
    schema: { type: 'string', format: 'uri', maxLength: CALLBACK_URL_MAX_LENGTH },
  },
  {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      `Of an asynchronous invocation: the same key again answers 202 with the first invocation (duplicate: true) instead of queueing another; 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable characters. ` +
      'X-Idempotency-Key is accepted too',
    schema: { type: 'string', maxLength: IDEMPOTENCY_KEY_MAX_LENGTH },
  },
];

/** The function's own answer: any content type, any body. */
const ANY_CONTENT = { '*/*': { schema: {} } };

const ERRORS: ErrorList = {
  400: 'The request is refused: a malformed URL or qualifier, a body that says it is JSON and is not, or one the invoker cannot hand over; an X-Callback-Url or Idempotency-Key that is not valid',
  401: true,
  403: 'The API key may not invoke this function: an invoke key that does not name it',
  404: 'No function has this id or label, or the qualifier names an alias or version that is not running',
  409: 'The function is not deployed (or its deployment FAILED): deploy it first',
  413: 'The request body is larger than the function accepts (resources.maxRequestBytes), or, asynchronous, than the gateway stores (GATEWAY_ASYNC_MAX_BODY_BYTES)',
  422: 'Asynchronous: the Idempotency-Key was used before for a different request',
  429: "The function's queue is full (scaling.queueSize, or scaling.asyncQueueSize for asynchronous invocations), or the client is over the gateway's rate limit",
  431: true,
  500: 'The handler threw; the message names the exception',
  502: 'The worker crashed or ran out of memory, the handler returned an invalid HTTP response, or the invoker failed to answer',
  503: 'The invoker is unreachable or shutting down, access to the function could not be checked, or (asynchronous) the deployer could not store it',
  504: "The invocation took longer than the function's resources.timeoutMs",
};

/** /fn/{label}{path} also answers as the function's http triggers say (HttpRoutes). */
const HTTP_ERRORS: ErrorList = {
  ...ERRORS,
  400: `${ERRORS[400] as string}; a path with "." or ".." segments or an encoded "/" or "\\" when an http trigger names a path`,
  404: 'No function has this label, no http trigger of the function serves this path, or the function has triggers but no http trigger (it is not served on /fn/)',
  405: "The function's http triggers serve this path, but not with this method: Allow lists the methods they take",
};

/** On a failed invocation's answer: what the deployer classifies an attempt by (a timeout is not the handler's own 5xx). */
const FAILURE_HEADERS: HeadersObject = {
  [InternalInvocationHeaders.FailureReason]: {
    schema: { type: 'string', enum: ['timeout', 'memory', 'crash', 'error'] },
    description: 'Why the invocation failed: it ran too long, ran out of memory, its worker crashed, or the handler threw',
  },
};

/** Statuses that come from the invoker, so its headers say which invocation it was. */
const FROM_INVOKER: ErrorStatus[] = [500, 502, 504];

function responses(method: Method, errors: ErrorList = ERRORS): ResponsesObject {
  const content = method === 'head' ? {} : { content: ANY_CONTENT };
  const out: ResponsesObject = {
    200: {
      description: "The function's answer: JSON for a value it returned, or the status, headers and body of the HTTP response it returned",
      headers: INVOCATION_HEADERS,
      ...content,
    },
    202: {
      description: 'Asynchronous (Prefer: respond-async, X-Invocation-Type: Event or X-Callback-Url): accepted and stored; it runs later',
      headers: ACCEPTED_HEADERS,
      ...(method === 'head' ? {} : { content: { 'application/json': { schema: { $ref: getSchemaPath(AcceptedInvocation) } } } }),
    },
  };
  for (const [status, said] of Object.entries(errors)) {
    const code = Number(status) as ErrorStatus;
    const r = errorResponse(code, said === true ? undefined : said);
    if (FROM_INVOKER.includes(code)) r.headers = { ...r.headers, ...INVOCATION_HEADERS, ...FAILURE_HEADERS };
    if (method === 'head') delete r.content;
    out[status] = r;
  }
  out.default = {
    description: 'Any other status the handler answered with (an HTTP response it returned), with its headers and body',
    headers: INVOCATION_HEADERS,
    ...content,
  };
  return out;
}

/** OpenAPI 3.0 describes request bodies only where HTTP defines their meaning (the proxy forwards one with any method). */
const hasBody = (m: Method) => m === 'post' || m === 'put' || m === 'patch';

const pathParam = (name: string, description: string): ParameterObject => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

const capital = (m: string) => m[0].toUpperCase() + m.slice(1);

function dataStyle(method: Method): OperationObject {
  const withBody = hasBody(method);
  return {
    tags: ['invoke'],
    operationId: method === 'post' ? 'invokeFunction' : `invokeFunction${capital(method)}`,
    summary:
      method === 'post'
        ? 'Invoke: {"data": X} gives the handler X; any other body is given whole'
        : method === 'get'
          ? 'Invoke with the query parameters as the data'
          : `Invoke with ${method.toUpperCase()}: the body (or, without one, the query parameters) is the data`,
    description:
      'Data style: the handler gets the data (a JSON body\'s "data" field, else the whole JSON body, a text body as a string, or without a body the query parameters). ' +
      'An invoke key that names the function may call it. ' +
      RESERVED_LABELS_NOTE,
    parameters: [
      pathParam('id', 'Function id (uuid) or label, optionally with :{qualifier} (shop:stable, shop:3)'),
      ...ASYNC_PARAMETERS,
      ...VERSION_PARAMETERS,
    ],
    ...(withBody
      ? {
          requestBody: {
            required: false,
            content: {
              'application/json': { schema: ANY_JSON, example: { data: { name: 'Alice' } } },
              'text/plain': { schema: { type: 'string' } },
            },
          },
        }
      : {}),
    responses: responses(method),
  };
}

function httpStyle(method: Method, subPath: boolean): OperationObject {
  return {
    tags: ['invoke'],
    operationId: `invokeFunctionHttp${subPath ? 'Path' : ''}${capital(method)}`,
    summary: `HTTP-style invocation with ${method.toUpperCase()}${subPath ? ' of a path under the function' : ''}`,
    description:
      "The handler gets the request: method, path, query, headers and body (base64 when binary), and a JSON body's top-level fields. " +
      "Served as the function's http triggers say: their methods (HEAD with GET) and paths (exact, {name} for one segment, a trailing /* for everything below); " +
      'a function with no triggers at all answers any method and path. Open to anyone when the trigger that takes the request says auth "none"; ' +
      'otherwise an admin key or an invoke key that names the function.',
    parameters: [
      pathParam('label', 'Function label (or id), optionally with :{qualifier} (shop:stable, shop:3)'),
      ...(subPath ? [pathParam('path', 'The rest of the path: the handler sees it as the request path (it may hold further slashes)')] : []),
      ...ASYNC_PARAMETERS,
      ...VERSION_PARAMETERS,
    ],
    // No key at all is a valid choice too: the function's http trigger decides.
    security: [{ bearer: [] }, { 'api-key': [] }, {}],
    ...(!hasBody(method)
      ? {}
      : { requestBody: { required: false, content: { '*/*': { schema: {} }, 'application/json': { schema: ANY_JSON, example: { name: 'Alice' } } } } }),
    responses: responses(method, HTTP_ERRORS),
  };
}

function pathItem(operation: (m: Method) => OperationObject): PathItemObject {
  return Object.fromEntries(METHODS.map((m) => [m, operation(m)]));
}

export function addInvocationPaths(doc: OpenAPIObject): void {
  doc.paths[`${FUNCTIONS_PATH}/${FunctionRouteWords.invoke}/{id}`] = pathItem(dataStyle);
  doc.paths[`${FUNCTION_URL_PREFIX}{label}`] = pathItem((m) => httpStyle(m, false));
  doc.paths[`${FUNCTION_URL_PREFIX}{label}/{path}`] = pathItem((m) => httpStyle(m, true));
}
