import { ApiProperty, ApiPropertyOptions, getSchemaPath, SchemaObject } from '@nestjs/swagger';

/*
 * Schema pieces the decorators of the wire classes share. Reflection sees `string | null`, `unknown` and
 * `Record<...>` as Object, so every such field says its schema here instead.
 */

/** Any JSON value, null included. Written out because a decorator cannot emit the empty schema `{}`. */
export const ANY_JSON: { anyOf: SchemaObject[] } = {
  anyOf: [
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'array', items: {} },
    { type: 'object', additionalProperties: true, nullable: true },
  ],
};

/** An object of string values, e.g. environment variables. */
export const STRING_MAP: { type: 'object'; additionalProperties: SchemaObject } = { type: 'object', additionalProperties: { type: 'string' } };

/** An object of any JSON values. */
export const JSON_OBJECT: { type: 'object'; additionalProperties: true } = { type: 'object', additionalProperties: true };

export const DATE_TIME = { type: String, format: 'date-time' } as const;
export const UUID = { type: String, format: 'uuid' } as const;

/**
 * `Model | null`. OpenAPI 3.0's `nullable` only widens the `type` beside it, not an `allOf: [$ref]` (which is how
 * `{ type: Model, nullable: true }` comes out), so validators refused null there: null is a branch of its own.
 * The class holding the property must list `model` in @ApiExtraModels so its schema is in the document.
 */
export function ApiNullableModel(model: abstract new (...args: never[]) => unknown, options: ApiPropertyOptions = {}): PropertyDecorator {
  return ApiProperty({ ...options, oneOf: [{ $ref: getSchemaPath(model) }, { type: 'object', nullable: true, enum: [null] }] } as ApiPropertyOptions);
}
