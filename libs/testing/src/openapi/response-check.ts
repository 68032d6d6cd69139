import { OpenApiDocument, OpenApiResponse, SchemaValidator } from './openapi-document';
import { OperationIndex } from './operation-index';

/** One answer as the client got it. */
export interface ObservedResponse {
  method: string;
  /** The request path as sent, without the query string. */
  path: string;
  status: number;
  contentType?: string;
  /** The whole body; undefined when it was not kept (a stream, or larger than the proxy keeps). */
  body?: Buffer;
  /** Whether the answer had a body at all (a stream counts). */
  hasBody: boolean;
}

export interface Verdict {
  /** `GET /api/v1/functions/{id}`, or where the document has no operation for the request. */
  operation: string;
  /** What differs from the document; empty when the answer conforms. */
  problems: string[];
  /** How much could be checked: the body too, status and type only, or nothing (documentation, health). */
  depth: 'body' | 'status-and-type' | 'outside-the-api';
}

export const NOT_IN_THE_DOCUMENT = '(path not in the document)';

export interface ResponseCheckOptions {
  /** Path templates that also take sub-paths (the gateway's invocation routes). */
  prefixRoutes?: string[];
  /** Paths the document does not describe on purpose (its own pages, health probes); their errors still must be ErrorBody. */
  outsideTheApi?: (path: string) => boolean;
}

/** Schema errors kept per answer: enough to see what is wrong, not a page for a huge array. */
const MAX_SCHEMA_ERRORS = 12;

const mediaType = (contentType: string) => contentType.split(';')[0].trim().toLowerCase();
const isJson = (type: string) => type === 'application/json' || type.endsWith('+json');

/** Checks answers against an OpenAPI document: status declared, content type declared for it, JSON body valid. */
export class ResponseChecker {
  private readonly index: OperationIndex;
  private readonly validator: SchemaValidator;
  private readonly errorSchema?: object;

  constructor(
    doc: OpenApiDocument,
    private readonly options: ResponseCheckOptions = {},
  ) {
    this.index = new OperationIndex(doc, options.prefixRoutes);
    this.validator = new SchemaValidator(doc);
    this.errorSchema = this.index.errorSchema();
  }

  check(r: ObservedResponse): Verdict {
    const depth = r.body !== undefined || !r.hasBody ? 'body' : 'status-and-type';
    // The gateway serves these before its routes (the docs at /api/v1/functions/swagger-ui shadow .../{id}).
    const outside = this.options.outsideTheApi?.(r.path) ?? false;
    if (outside && r.status < 400) return { operation: '(outside the API: docs, health)', depth: 'outside-the-api', problems: [] };
    const match = outside ? undefined : this.index.match(r.method, r.path);
    if (match?.operation) {
      const declared = this.index.response(match.operation, r.status);
      const operation = `${r.method === 'HEAD' && !match.declared.includes('head') ? 'GET' : r.method} ${match.template}`;
      if (!declared) {
        const codes = Object.keys(match.operation.responses ?? {}).join(', ');
        return { operation, depth, problems: [`status ${r.status} is not declared (declared: ${codes || 'none'})`] };
      }
      return { operation, depth, problems: this.bodyProblems(r, declared) };
    }
    // What the document does not describe may only be refused, with the platform's one error shape.
    const operation = match ? `${r.method} ${match.template} (method not declared)` : NOT_IN_THE_DOCUMENT;
    const described = match
      ? `the document declares only ${match.declared.join(', ').toUpperCase()} for ${match.template}`
      : 'the document does not describe the path';
    if (r.status < 400) return { operation, depth, problems: [`answered ${r.status} where ${described} (only an error may answer)`] };
    if (!this.errorSchema) return { operation, depth, problems: ['the document names no error schema to check this error against'] };
    return { operation, depth, problems: this.bodyProblems(r, { content: { 'application/json': { schema: this.errorSchema } } }, 'the error shape') };
  }

  private bodyProblems(r: ObservedResponse, declared: OpenApiResponse, what = `the document for ${r.status}`): string[] {
    const content = declared.content ?? {};
    const types = Object.keys(content);
    const actual = r.contentType ? mediaType(r.contentType) : undefined;
    if (types.length === 0) {
      return r.hasBody ? [`a body (${actual ?? 'no content type'}) where ${what} declares none`] : [];
    }
    // HEAD, 204 and 304 answers never carry a body, whatever the document says about the GET answer.
    if (!r.hasBody) return r.method === 'HEAD' || r.status === 204 || r.status === 304 ? [] : [`no body where ${what} declares ${types.join(', ')}`];
    if (!actual) return [`no content type where ${what} declares ${types.join(', ')}`];
    const key =
      types.find((t) => mediaType(t) === actual) ??
      types.find((t) => mediaType(t) === `${actual.split('/')[0]}/*`) ??
      types.find((t) => mediaType(t) === '*/*');
    if (!key) return [`content type ${actual} where ${what} declares ${types.join(', ')}`];
    const schema = content[key].schema;
    if (!schema || !isJson(actual) || r.body === undefined) return [];
    let value: unknown;
    try {
      value = JSON.parse(r.body.toString('utf8'));
    } catch (err) {
      return [`the ${actual} body is not JSON: ${(err as Error).message}`];
    }
    const errors = this.validator.errors(schema as object, value);
    const name = (schema as { $ref?: string }).$ref?.replace('#/components/schemas/', '') ?? `the schema for ${r.status}`;
    const shown = errors.slice(0, MAX_SCHEMA_ERRORS).map((e) => `body vs ${name}: ${e}`);
    return errors.length > MAX_SCHEMA_ERRORS ? [...shown, `body vs ${name}: and ${errors.length - MAX_SCHEMA_ERRORS} more`] : shown;
  }
}
