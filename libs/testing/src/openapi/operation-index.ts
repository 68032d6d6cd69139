import { OpenApiDocument, OpenApiOperation, OpenApiResponse, resolveRef } from './openapi-document';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Route {
  template: string;
  /** The template up to its first parameter: `/fn/`. */
  literal: string;
  exact: RegExp;
  /** The template followed by any sub-path. */
  withSubPath: RegExp;
  item: Record<string, unknown>;
  /** Also takes sub-paths (`/fn/{label}/any/thing`). */
  prefix: boolean;
}

/** Parameter names do not matter when a template is named: `/fn/{label}` is `/fn/{}`. */
const shape = (template: string) => template.replace(/\{[^}]+\}/g, '{}');

export interface RouteMatch {
  /** The path template of the document that matched, e.g. `/api/v1/functions/{id}`. */
  template: string;
  /** The operation for the request's method; undefined when the path is documented but not that method. */
  operation?: OpenApiOperation;
  /** The methods the document declares for the path. */
  declared: string[];
}

/** Literal segments before parameters, as OpenAPI says concrete paths win over templated ones. */
function bySpecificity(a: Route, b: Route): number {
  const as = a.template.split('/');
  const bs = b.template.split('/');
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const ap = as[i].startsWith('{');
    const bp = bs[i].startsWith('{');
    if (ap !== bp) return ap ? 1 : -1;
  }
  return bs.length - as.length;
}

/**
 * Finds the document's operation for a request, the way the gateway routes it: path templates match one
 * non-empty segment per parameter, with the exact spelling (the gateway routes case-sensitively and strictly).
 * The `prefixRoutes` (the invocation routes) also take sub-paths, and the gateway hands everything under their
 * literal start (`/fn/`) to the invoker before any other route is tried: so does this index.
 */
export class OperationIndex {
  private readonly routes: Route[];

  constructor(
    private readonly doc: OpenApiDocument,
    prefixRoutes: string[] = [],
  ) {
    const prefixes = new Set(prefixRoutes.map(shape));
    this.routes = Object.entries(doc.paths ?? {})
      .map(([template, item]) => {
        const body = template
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('');
        return {
          template,
          item,
          literal: template.split('{')[0],
          prefix: prefixes.has(shape(template)),
          exact: new RegExp(`^${body}$`),
          withSubPath: new RegExp(`^${body}/`),
        };
      })
      .sort(bySpecificity);
  }

  private find(path: string): Route | undefined {
    const owner = this.routes.find((r) => r.prefix && path.startsWith(r.literal));
    if (!owner) return this.routes.find((r) => r.exact.test(path));
    const family = this.routes.filter((r) => r.template.startsWith(owner.literal));
    return family.find((r) => r.exact.test(path)) ?? family.find((r) => r.prefix && r.withSubPath.test(path));
  }

  /** `path` is the request's path as sent, without the query string. */
  match(method: string, path: string): RouteMatch | undefined {
    const route = this.find(path);
    if (!route) return undefined;
    const declared = METHODS.filter((m) => route.item[m] !== undefined);
    const m = method.toLowerCase();
    // HEAD is answered by the GET route, with GET's status and headers.
    const operation = (route.item[m] ?? (m === 'head' ? route.item.get : undefined)) as OpenApiOperation | undefined;
    return { template: route.template, operation, declared };
  }

  /** The response object the document declares for a status: the exact code, its range (`4XX`), or `default`. */
  response(operation: OpenApiOperation, status: number): OpenApiResponse | undefined {
    const responses = operation.responses ?? {};
    const declared = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    return declared === undefined ? undefined : resolveRef<OpenApiResponse>(this.doc, declared);
  }

  /**
   * The schema of the platform's one error shape, as the document itself names it: the schema its error
   * responses (4xx/5xx, JSON) refer to most often; a component named ErrorBody when none does.
   */
  errorSchema(): object | undefined {
    const counts = new Map<string, number>();
    for (const item of Object.values(this.doc.paths ?? {})) {
      for (const m of METHODS) {
        const op = item[m] as OpenApiOperation | undefined;
        for (const [status, r] of Object.entries(op?.responses ?? {})) {
          if (!/^[45]/.test(status)) continue;
          const ref = (resolveRef<OpenApiResponse>(this.doc, r)?.content?.['application/json']?.schema as { $ref?: string } | undefined)?.$ref;
          if (ref) counts.set(ref, (counts.get(ref) ?? 0) + 1);
        }
      }
    }
    const [top] = [...counts].sort((a, b) => b[1] - a[1]);
    if (top) return { $ref: top[0] };
    return this.doc.components?.schemas?.ErrorBody ? { $ref: '#/components/schemas/ErrorBody' } : undefined;
  }
}
