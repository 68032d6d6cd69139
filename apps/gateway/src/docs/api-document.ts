import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, ReferenceObject, SchemaObject, SwaggerModule } from '@nestjs/swagger';
import { allTemplates, RUNTIMES, runtimeNames } from '@platform/runtimes';
import { triggerSchemas } from '@platform/sources';
import { addEventPaths } from './event-paths';
import { addInvocationPaths } from './invocation-paths';

/**
 * The API document: the Nest routes as their decorators describe them (the wire classes of @platform/contracts are
 * their schemas), plus the invocation routes the proxy answers before Nest and the posting of events.
 */
export function apiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('hks functions platform')
      .setDescription('Create, build, deploy and invoke functions; query and stream their events.')
      .setVersion('1')
      .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
      .addServer('/', 'This gateway')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'An API key: HKS_DATA_DIR/admin-key from the first start, one from POST /api/v1/keys, or HKS_API_KEYS' },
        'bearer',
      )
      .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'api-key')
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('api-key')
      .addTag('functions', 'Create, build, deploy and read functions')
      .addTag('invoke', 'Run a function: data style (/api/v1/functions/invoke/{id}) or HTTP style (/fn/{label}/...)')
      .addTag('invocations', 'Follow, cancel, redrive and replay invocations (asynchronous ones: a 202 of an invoke route)')
      .addTag('events', 'Query, record and stream events')
      .addTag('secrets', 'Values functions get as environment variables')
      .addTag('runtimes', 'The languages functions run in and the versions installed')
      .addTag('keys', 'API keys (admin only)')
      .addTag('health', 'Probes, open to anyone')
      .build(),
  );
  // The triggers' schemas come from the event sources' descriptors (config.triggers refers to them by name).
  Object.assign((document.components ??= {}).schemas ?? (document.components.schemas = {}), triggerSchemas());
  describeRuntimes(document);
  addInvocationPaths(document);
  addEventPaths(document);
  for (const schema of Object.values(document.components?.schemas ?? {})) plainEnumReferences(schema);
  return document;
}

/**
 * @nestjs/swagger writes a property of a named enum as `allOf: [{ $ref }]` so that a description can sit beside it.
 * With nothing beside it, that is the reference itself: say it plainly.
 */
function plainEnumReferences(schema: SchemaObject | ReferenceObject): void {
  if (!('properties' in schema) || !schema.properties) return;
  for (const [name, property] of Object.entries(schema.properties)) {
    const only = (property as SchemaObject).allOf;
    if (Object.keys(property).length === 1 && only?.length === 1) schema.properties[name] = only[0];
  }
}

/** The runtimes and templates of the descriptors (RUNTIMES in @platform/runtimes) where the wire classes name them. */
function describeRuntimes(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  const templates = [...new Set(allTemplates().map((t) => t.name))];
  const families = RUNTIMES.map((r) => r.name);
  const property = (schema: string, name: string) => (schemas[schema] as SchemaObject | undefined)?.properties?.[name] as SchemaObject | undefined;
  for (const dto of ['CreateFunctionDto', 'UpdateFunctionDto', 'FunctionView']) {
    const runtime = property(dto, 'runtime');
    if (runtime) {
      runtime.description =
        `A runtime name, with or without a version: ${runtimeNames()}. A version not installed runs on the nearest newer one ` +
        '(with a warning); GET /api/v1/runtimes lists the versions.' +
        (dto === 'CreateFunctionDto' ? ' Required unless `image` is sent.' : '');
    }
    const template = property(dto, 'template');
    if (template) template.enum = templates;
  }
  const language = property('ResolvedRuntime', 'language');
  if (language) language.enum = families;
  const name = property('RuntimeView', 'name');
  if (name) name.enum = families;
}
