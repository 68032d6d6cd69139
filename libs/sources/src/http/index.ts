import type { SourceDescriptor } from '../types';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** HTTP: /fn/{label}{path}, served by the gateway. */
export const http: SourceDescriptor = {
  kind: 'http',
  summary: 'HTTP requests to /fn/{label}{path}, with methods, path and auth enforced by the gateway.',
  docs:
    'The function answers `/fn/{label}` followed by `path` (exact; `{name}` matches one segment; a trailing `/*` matches ' +
    'everything below). A path it does not serve answers 404, a method it does not take 405 with `Allow`. `auth: none` ' +
    'opens it to anyone; `api-key` (the default) or `required` needs an API key. A function with triggers but no http ' +
    'trigger is not served on /fn/ (call it with `POST /api/v1/functions/invoke/{id}`); one with no triggers at all ' +
    'answers on /fn/ for any method and path, with a key.',
  eventShape:
    'The request itself: `data` is the parsed JSON body (or the text), as for `POST /api/v1/functions/invoke/{id}`; ' +
    'handlers that take the whole request get method, path, query, headers and body.',
  example: { type: 'http', methods: ['GET', 'POST'], path: '/api/hello', auth: 'required' },
  yamlExample: '- type: http\n  methods: [GET, POST]\n  path: /api/hello\n  auth: required',
  fields: [
    {
      key: 'methods',
      yaml: 'methods',
      type: 'strings',
      pattern: { regex: new RegExp(`^(${METHODS.join('|')})$`, 'i'), means: `an HTTP method (${METHODS.join(', ')})` },
      description: `Methods it answers (${METHODS.join(', ')}); all when absent. HEAD goes with GET.`,
      example: ['GET', 'POST'],
    },
    {
      key: 'path',
      yaml: 'path',
      type: 'string',
      max: 1024,
      pattern: { regex: /^\/[^\s?#]*$/, means: 'a path starting with "/" (no spaces, "?" or "#")' },
      description: 'Path under /fn/{label}: exact, `{name}` for one segment, a trailing `/*` for everything below; any path when absent.',
      example: '/api/hello',
    },
    {
      key: 'auth',
      yaml: 'auth',
      type: 'enum',
      values: ['none', 'api-key', 'required'],
      default: 'api-key',
      description: '"none" opens it to anyone; "api-key" or "required" (the same) needs an API key.',
    },
  ],
  check(t) {
    const path = t.path as string | undefined;
    if (path && path.split('/').some((s) => s === '.' || s === '..')) return 'http trigger path must not contain "." or ".." segments';
    if (path && /\*/.test(path.replace(/\/\*$/, ''))) return 'http trigger path may only end in "/*" (a wildcard elsewhere is not supported)';
    return undefined;
  },
  runtime: 'gateway',
  identity: (t) => [t.path ?? '', t.methods ?? []],
};
