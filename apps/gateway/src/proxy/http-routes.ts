import { functionInvokePath, type ErrorBody, type HttpTrigger, type Trigger } from '@platform/contracts';

/**
 * What /fn/{label}{path} does with one request, by the function's http triggers (libs/sources/src/http):
 * - `serve`: a trigger takes it; `open` when one that takes it says auth "none" (no key needed);
 * - `refuse`: 400 (a path that cannot be matched safely), 404 (no trigger serves the path, or the function is not
 *   served on /fn/ at all) or 405 (the path is served, the method is not: `headers` carry Allow).
 */
export type RouteDecision = { serve: true; open: boolean } | { serve: false; body: ErrorBody; headers: Record<string, string> };

/** `{name}`: one segment, whatever it holds (not empty). */
const PARAM = Symbol('param');
type Segment = string | typeof PARAM;
const SLASH = 0x2f;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;

interface CompiledRoute {
  /** Upper-case; undefined: every method. HEAD is in it whenever GET is. */
  methods: ReadonlySet<string> | undefined;
  /** undefined: any path. */
  segments: readonly Segment[] | undefined;
  /** A trailing "/*": the segments are a prefix (the path itself included). */
  below: boolean;
  open: boolean;
  /** The path as the trigger gives it, for messages. */
  path: string | undefined;
}

const SERVE_KEYED: RouteDecision = { serve: true, open: false };
const SERVE_OPEN: RouteDecision = { serve: true, open: true };

/** What the gateway asks of a function's routes: one version's triggers (HttpRoutes), or several versions' together. */
export interface RouteTable {
  /** Its 404s and 405s need no key. */
  readonly public: boolean;
  decide(method: string, rawPath: string): RouteDecision;
}

/**
 * The routes of several versions at once, where any of them may serve the request (a traffic split picks one per
 * invocation, after the gateway decided): a request needs no key only when every version's trigger that takes it
 * says so; it is served when any version serves it (with a key unless open in all); otherwise the first version's
 * refusal stands. Public only when every version is.
 */
export class EveryVersionRoutes implements RouteTable {
  readonly public: boolean;

  constructor(private readonly versions: readonly HttpRoutes[]) {
    this.public = versions.every((v) => v.public);
  }

  decide(method: string, rawPath: string): RouteDecision {
    const decisions = this.versions.map((v) => v.decide(method, rawPath));
    if (decisions.every((d) => d.serve && d.open)) return SERVE_OPEN;
    if (decisions.some((d) => d.serve)) return SERVE_KEYED;
    return decisions[0];
  }
}

/**
 * A function's http triggers, compiled once (when the gateway learns of the function) into matchers that take a
 * request in O(triggers x segments), without building anything per request.
 */
export class HttpRoutes implements RouteTable {
  /** Some trigger says auth "none": the function is public, so its 404s and 405s need no key either. */
  readonly public: boolean;
  private readonly routes: readonly CompiledRoute[];
  /** Triggers, but none of kind http: not served on /fn/. */
  private readonly notServed: ErrorBody | undefined;
  /** No triggers at all: any method, any path, with a key (and the path is never looked at). */
  private readonly any: boolean;
  /** Some trigger names a path: the request's path must be parsed. */
  private readonly pathMatters: boolean;

  private constructor(
    private readonly label: string,
    triggers: readonly Trigger[],
    functionId: string,
  ) {
    const http = triggers.filter((t): t is HttpTrigger => t.type === 'http');
    this.any = triggers.length === 0;
    this.routes = http.map(compile);
    this.public = this.routes.some((r) => r.open);
    this.pathMatters = this.routes.some((r) => r.segments !== undefined);
    this.notServed =
      !this.any && http.length === 0
        ? {
            statusCode: 404,
            error: 'Not Found',
            message:
              `Function ${label} is not served on /fn/: it has no http trigger (its triggers: ${[...new Set(triggers.map((t) => t.type))].join(', ')}). ` +
              `Invoke it with POST ${functionInvokePath(functionId)}, or through its triggers`,
          }
        : undefined;
  }

  /** `triggers`: the function's config.triggers (absent or empty: no triggers). */
  static of(label: string, functionId: string, triggers: readonly Trigger[] | undefined): HttpRoutes {
    return new HttpRoutes(label, triggers ?? [], functionId);
  }

  /**
   * `method` as Node gives it; `rawPath` the request's path after /fn/{label}, before any "?", still percent-encoded
   * ("" and "/" are the function's root).
   */
  decide(method: string, rawPath: string): RouteDecision {
    if (this.any) return SERVE_KEYED;
    if (this.notServed) return { serve: false, body: this.notServed, headers: {} };
    let segments: string[] | undefined;
    if (this.pathMatters) {
      const parsed = parsePath(rawPath);
      if (typeof parsed === 'string') return { serve: false, body: { statusCode: 400, error: 'Bad Request', message: parsed }, headers: {} };
      segments = parsed;
    }
    let pathServed = false;
    let keyed = false;
    for (const r of this.routes) {
      if (r.segments && !matches(r, segments!)) continue;
      pathServed = true;
      if (r.methods && !r.methods.has(method)) continue;
      if (r.open) return SERVE_OPEN;
      keyed = true;
    }
    if (keyed) return SERVE_KEYED;
    if (!pathServed) return this.notFound(rawPath);
    return this.notAllowed(method, rawPath, segments);
  }

  private notFound(rawPath: string): RouteDecision {
    const served = this.routes.map((r) => `/fn/${this.label}${r.path!}`);
    return {
      serve: false,
      body: {
        statusCode: 404,
        error: 'Not Found',
        message: `Function ${this.label} has no http trigger for the path ${rawPath || '/'}: it serves ${[...new Set(served)].join(', ')}`,
      },
      headers: {},
    };
  }

  private notAllowed(method: string, rawPath: string, segments: string[] | undefined): RouteDecision {
    const allowed = new Set<string>();
    for (const r of this.routes) if (!r.segments || matches(r, segments!)) for (const m of r.methods!) allowed.add(m);
    const allow = [...allowed].join(', ');
    return {
      serve: false,
      body: { statusCode: 405, error: 'Method Not Allowed', message: `Function ${this.label} does not take ${method} on ${rawPath || '/'}: it takes ${allow}` },
      headers: { allow },
    };
  }
}

function compile(t: HttpTrigger): CompiledRoute {
  let methods: Set<string> | undefined;
  if (t.methods && t.methods.length > 0) {
    methods = new Set(t.methods.map((m) => m.toUpperCase()));
    if (methods.has('GET')) methods.add('HEAD');
  }
  let segments: Segment[] | undefined;
  let below = false;
  if (t.path !== undefined) {
    let p = t.path;
    if (p === '/*' || p.endsWith('/*')) {
      below = true;
      p = p.slice(0, -2);
    }
    segments = split(p).map((s) => (s.length > 2 && s.startsWith('{') && s.endsWith('}') ? PARAM : decodeOr(s)));
  }
  return { methods, segments, below, open: t.auth === 'none', path: t.path };
}

function matches(r: CompiledRoute, segments: readonly string[]): boolean {
  const want = r.segments!;
  if (r.below ? segments.length < want.length : segments.length !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (w === PARAM ? segments[i] === '' : w !== segments[i]) return false;
  }
  return true;
}

/** "/a/b/" -> ["a", "b"]; "" and "/" -> []. A trailing slash does not count; an empty segment inside does. */
function split(path: string): string[] {
  let p = path.startsWith('/') ? path.slice(1) : path;
  if (p.endsWith('/')) p = p.slice(0, -1);
  return p === '' ? [] : p.split('/');
}

function decodeOr(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The decoded segments of a request's path, or why it is refused: a dot segment, or a segment that decodes to
 * something with "/" or "\" in it, could reach a path of the function other than the one matched (a handler or a
 * client that resolves them), so they are refused as the function name's are.
 */
export function parsePath(rawPath: string): string[] | string {
  const out: string[] = [];
  const n = rawPath.length;
  let i = rawPath.charCodeAt(0) === SLASH ? 1 : 0;
  // A trailing slash does not count.
  const end = n > i && rawPath.charCodeAt(n - 1) === SLASH ? n - 1 : n;
  if (i >= end) return out;
  // One pass, no regex: this runs on every /fn/ request of a function whose triggers name a path.
  let start = i;
  let encoded = false;
  for (; i <= end; i++) {
    const c = i === end ? SLASH : rawPath.charCodeAt(i);
    if (c === SLASH) {
      let segment = rawPath.slice(start, i);
      if (encoded) {
        try {
          segment = decodeURIComponent(segment);
        } catch {
          return `the path ${rawPath.slice(0, 200)} has a badly percent-encoded segment`;
        }
        if (segment.includes('/') || segment.includes('\\'))
          return `the path after the function name may not hold an encoded "/" or "\\": ${rawPath.slice(0, 200)}`;
      }
      if (segment === '.' || segment === '..')
        return `the path after the function name may not contain "." or ".." segments (plain or percent-encoded): ${rawPath.slice(0, 200)}`;
      out.push(segment);
      start = i + 1;
      encoded = false;
    } else if (c === PERCENT) encoded = true;
    else if (c === BACKSLASH) return `the path after the function name may not contain "\\": ${rawPath.slice(0, 200)}`;
  }
  return out;
}
