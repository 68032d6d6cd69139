import Ajv, { ErrorObject, Options, ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** The parts of an OpenAPI 3.x document the conformance checks read. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown>; responses?: Record<string, unknown> };
}

export interface OpenApiOperation {
  operationId?: string;
  responses?: Record<string, unknown>;
}

export interface OpenApiResponse {
  description?: string;
  content?: Record<string, { schema?: unknown }>;
}

/** ajv knows the document's components under this id: `#/components/...` becomes `openapi.json#/components/...`. */
const DOC_ID = 'openapi.json';

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_ONE = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'unevaluatedItems',
  'unevaluatedProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
]);
/** OpenAPI annotations that do not constrain a value (an `example` may even hold keys that look like keywords). */
const ANNOTATIONS = new Set(['example', 'examples', 'xml', 'externalDocs', 'discriminator', 'deprecated']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An OpenAPI schema object as JSON Schema for ajv. Walks only schema positions (never into enum, default or
 * example values). OpenAPI 3.0: `nullable: true` also admits null, `$ref` ignores its siblings (as the
 * specification says), boolean `exclusiveMinimum`/`exclusiveMaximum` become the numeric form.
 */
export function toJsonSchema(schema: unknown, openapi30: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((s) => toJsonSchema(s, openapi30));
  if (!isObject(schema)) return schema;
  if (openapi30 && typeof schema.$ref === 'string') return { $ref: localRef(schema.$ref) };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key)) continue;
    if (key === '$ref' && typeof value === 'string') out.$ref = localRef(value);
    else if (SCHEMA_MAPS.has(key) && isObject(value)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v, openapi30)]));
    else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map((v) => toJsonSchema(v, openapi30));
    else if (SCHEMA_ONE.has(key)) out[key] = toJsonSchema(value, openapi30);
    else out[key] = value;
  }
  if (!openapi30) return out;
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ]) {
    if (out[flag] === true && typeof out[bound] === 'number') {
      out[flag] = out[bound];
      delete out[bound];
    } else if (typeof out[flag] === 'boolean') delete out[flag];
  }
  if ('nullable' in out) {
    const nullable = out.nullable === true;
    delete out.nullable;
    if (nullable) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

const localRef = (ref: string) => (ref.startsWith('#/') ? DOC_ID + ref : ref);

/** Follows a local `$ref` (`#/components/responses/X`) through the document; anything else is returned as is. */
export function resolveRef<T>(doc: OpenApiDocument, value: unknown): T | undefined {
  let current = value;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string' && hops < 10; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith('#/')) return undefined;
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, part) => (isObject(node) ? node[part] : undefined), doc);
  }
  return current as T | undefined;
}

/** Validates values against the document's schemas (compiled once each), `$ref`s into its components included. */
export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new WeakMap<object, ValidateFunction | Error>();
  private readonly openapi30: boolean;

  constructor(doc: OpenApiDocument) {
    this.openapi30 = !doc.openapi.startsWith('3.1');
    // strict off: the document carries OpenAPI keywords ajv does not know; unknown formats are then ignored.
    const options: Options = { strict: false, allErrors: true, logger: false };
    this.ajv = this.openapi30 ? new Ajv(options) : (new Ajv2020(options) as unknown as Ajv);
    addFormats(this.ajv);
    const schemas = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).map(([k, v]) => [k, toJsonSchema(v, this.openapi30)]));
    this.ajv.addSchema({ $id: DOC_ID, components: { schemas } });
  }

  /** The ways `value` differs from `schema` ("/config/env must be object"); empty when it conforms. */
  errors(schema: object, value: unknown): string[] {
    let validate = this.compiled.get(schema);
    if (!validate) {
      try {
        validate = this.ajv.compile(toJsonSchema(schema, this.openapi30) as object);
      } catch (err) {
        validate = err as Error;
      }
      this.compiled.set(schema, validate);
    }
    if (validate instanceof Error) return [`the document's schema does not compile: ${validate.message}`];
    if (validate(value)) return [];
    return readable(validate.errors ?? []);
  }
}

/**
 * ajv's errors in a person's words, one per place: a value that fits none of `anyOf`'s types (what `nullable`
 * becomes) reads "/url must be object or null", not three errors.
 */
function readable(errors: ErrorObject[]): string[] {
  const byPlace = new Map<string, ErrorObject[]>();
  for (const e of errors) byPlace.set(e.instancePath, [...(byPlace.get(e.instancePath) ?? []), e]);
  return [...byPlace].flatMap(([place, all]) => {
    let found = all;
    const where = place || '(the body)';
    if (found.some((e) => e.keyword === 'anyOf')) {
      const types = found.filter((e) => e.keyword === 'type').map((e) => (e.params as { type: string }).type);
      // Not null, and not what the other branch wants: that branch's own errors (here or deeper) say why.
      found = found.filter((e) => e.keyword !== 'anyOf' && !(e.keyword === 'type' && (e.params as { type: string }).type === 'null'));
      if (found.length > 0 && found.every((e) => e.keyword === 'type')) return [`${where} must be ${types.join(' or ')}`];
    }
    return found.map((e) => `${where} ${e.message}${detail(e)}`);
  });
}

function detail(e: ErrorObject): string {
  if (e.keyword === 'enum') return ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})`;
  if (e.keyword === 'additionalProperties') return ` (${(e.params as { additionalProperty: string }).additionalProperty})`;
  return '';
}
