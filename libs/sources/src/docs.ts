import type { FieldSpec } from './fields';
import { RETRY_FIELDS } from './fields';
import { SOURCES } from './registry';
import type { SourceDescriptor } from './types';

const RUNTIME: Record<SourceDescriptor['runtime'], string> = {
  gateway: 'the gateway',
  scheduler: "the deployer's scheduler",
  bus: "the platform's event bus",
  consumer: 'a consumer in every deployer replica',
};

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(f: FieldSpec): string {
  switch (f.type) {
    case 'enum':
      return f.values!.map((v) => `"${v}"`).join(' | ');
    case 'url':
      return `URL (${f.values?.join(', ')})`;
    case 'duration':
      return 'duration ("5s"; ms in the API)';
    case 'strings':
      return 'list of strings';
    case 'retry':
      return 'retry policy';
    default:
      return f.type;
  }
}

function fieldsTable(fields: FieldSpec[]): string {
  const rows = fields.map((f) => {
    const yaml = [f.yaml, ...(f.yamlAliases ?? [])].map((k) => `\`${k}\``).join(', ');
    const dflt = f.required ? 'required' : f.default === undefined ? '' : `\`${JSON.stringify(f.default)}\``;
    return `| ${yaml} | \`${f.key}\` | ${cell(typeOf(f))} | ${dflt} | ${cell(f.description)} |`;
  });
  return ['| function.yaml | API | type | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

function section(d: SourceDescriptor): string {
  const names = [d.kind, ...(d.aliases ?? [])].map((k) => `\`${k}\``).join(', ');
  return [
    `## ${d.kind}`,
    '',
    d.summary,
    '',
    `\`type:\` ${names}. Served by ${RUNTIME[d.runtime]}.`,
    '',
    ...(d.untested ? [`> **Not tested against a real server here.** ${d.untested}`, ''] : []),
    d.docs,
    '',
    '**The event the handler gets.** ' + d.eventShape,
    '',
    '```yaml',
    'triggers:',
    ...d.yamlExample.split('\n').map((l) => `  ${l}`),
    '```',
    '',
    'In the API (`config.triggers[]`):',
    '',
    '```json',
    JSON.stringify(d.example),
    '```',
    '',
    fieldsTable(d.fields),
    '',
  ].join('\n');
}

/** docs/event-sources.md, from the descriptors (libs/sources/src/docs.spec.ts keeps the file in step). */
export function renderSourcesDoc(): string {
  return [
    '# Event sources',
    '',
    '<!-- Generated from libs/sources (the descriptors): edit them, then run `UPDATE_DOCS=1 npx jest libs/sources/src/docs.spec.ts`. -->',
    '',
    "Every way a function is invoked is a trigger in its `config.triggers` (function.yaml's `triggers:`), of one of " +
      'these kinds. Each kind is one folder in `libs/sources/src/<kind>`: its descriptor (the fields below, which give the ' +
      "API's validation, the OpenAPI schema, the function.yaml keys and this page), its consumer, and its tests.",
    '',
    'In function.yaml a trigger is written `- type: <kind>` with snake_case keys and durations such as `5s`; in the API, ' +
      'camelCase keys and durations in ms. Both are checked by the same rules.',
    '',
    '| kind | also | served by | what |',
    '|---|---|---|---|',
    ...SOURCES.map((d) => `| [${d.kind}](#${d.kind}) | ${(d.aliases ?? []).join(', ')} | ${RUNTIME[d.runtime]} | ${cell(d.summary)} |`),
    '',
    '## Delivery',
    '',
    'Every event of a message source, schedule tick and custom event becomes an **asynchronous invocation**, committed in ' +
      'Postgres before the message is acknowledged, so none is lost; its idempotency key is `{kind}:{trigger key}:{event id}`, ' +
      'so a message delivered twice (a redelivery, a crash between the accept and the acknowledgement, two replicas) runs ' +
      "once. A failing handler is retried by the trigger's `retry` (else the function's `config.retry`), never more than " +
      '`attempts` times, then it is **dead**: list the dead letters with `GET /api/v1/invocations?status=dead` ' +
      '(`hks invocations list --status dead`) and run them again with `POST /api/v1/invocations/{id}/redrive` ' +
      '(`hks invocations redrive`). An attempt whose deployer died is looked up in the event store before it runs again: ' +
      'if the invoker recorded its end, that is its end. Undeploying a function stops its consumers at once; what is ' +
      'published meanwhile waits in the queue or stream (durable kinds) for the next deploy.',
    '',
    "`result_topic` and `error_topic` publish each invocation's end on the same system as the trigger: " +
      '`{"invocationId", "functionId", "status", "result", "error", "eventId"}`, once the end is committed, at most once.',
    '',
    'The retry policy (`retry:`) of a trigger:',
    '',
    fieldsTable(RETRY_FIELDS),
    '',
    ...SOURCES.map(section),
  ].join('\n');
}
