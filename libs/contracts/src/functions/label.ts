import { registerDecorator, ValidationOptions } from 'class-validator';
import { MAX_LABEL_LENGTH } from './knative-limits';

/** Where the gateway serves the function API; its sub-routes below share the first segment with `{id}`. */
export const FUNCTIONS_PATH = '/api/v1/functions';

/**
 * The words the gateway routes as the first segment under /api/v1/functions. `/api/v1/functions/{id}/builds`
 * and `/api/v1/functions/invoke/{id}` would both match `/api/v1/functions/invoke/builds` if a function could be
 * labelled "invoke", so none can: the gateway builds these routes from this list, and its tests check that every
 * literal first segment it routes is one of them.
 */
export const FunctionRouteWords = {
  invoke: 'invoke',
  build: 'build',
  deploy: 'deploy',
  docs: 'swagger-ui',
} as const;

/** HTTP-style invocations: ANY /fn/{label}[/...], the function's URL as the README and the CLI give it. */
export const FUNCTION_URL_PREFIX = '/fn/';

export function functionUrl(label: string): string {
  return `${FUNCTION_URL_PREFIX}${encodeURIComponent(label)}`;
}

/**
 * Where the gateway serves a function on /fn/, as its http routes decide: with no triggers at all, /fn/{label}
 * (any method and path, with a key); otherwise /fn/{label} followed by each http trigger's path (its root when the
 * trigger names none). Empty when the function has triggers but no http trigger: /fn/ answers 404 for it, and it
 * runs through its invoke path (functionInvokePath) and its triggers.
 */
export function functionUrls(label: string, triggers: readonly { type: string; path?: string }[] | undefined): string[] {
  const base = functionUrl(label);
  if (!triggers?.length) return [base];
  const urls = triggers.filter((t) => t.type === 'http').map((t) => (t.path && t.path !== '/' ? `${base}${t.path}` : base));
  return [...new Set(urls)];
}

/** The data-style invoke route of a function (by id or label): POST /api/v1/functions/invoke/{id}. */
export function functionInvokePath(idOrLabel: string): string {
  return `${FUNCTIONS_PATH}/${FunctionRouteWords.invoke}/${encodeURIComponent(idOrLabel)}`;
}

/** The documentation's own paths: the UI and its JSON and YAML documents. */
export const DOCS_PATH = `${FUNCTIONS_PATH}/${FunctionRouteWords.docs}`;

/** Each reserved label and the route that owns it, for the message that refuses it. */
export const RESERVED_LABELS: Readonly<Record<string, string>> = {
  [FunctionRouteWords.invoke]: `${FUNCTIONS_PATH}/${FunctionRouteWords.invoke}/... is the invoke route`,
  [FunctionRouteWords.build]: `${FUNCTIONS_PATH}/${FunctionRouteWords.build}/... is the build route`,
  [FunctionRouteWords.deploy]: `${FUNCTIONS_PATH}/${FunctionRouteWords.deploy}/... is the deploy route`,
  [FunctionRouteWords.docs]: `${DOCS_PATH} is the API documentation`,
  [`${FunctionRouteWords.docs}-json`]: `${DOCS_PATH}-json is the API document`,
  [`${FunctionRouteWords.docs}-yaml`]: `${DOCS_PATH}-yaml is the API document`,
};

/**
 * For the API document: redocly finds /api/v1/functions/build/{id} and /api/v1/functions/{id}/builds ambiguous (both
 * could match /api/v1/functions/build/builds); the reserved labels are what makes them unambiguous at the server.
 */
export const RESERVED_LABELS_NOTE =
  `No function can be labelled ${Object.keys(RESERVED_LABELS).join(', ')}: those words are the routes under ${FUNCTIONS_PATH}, ` +
  `so ${FUNCTIONS_PATH}/build/builds, say, is the build route, never the builds of a function labelled "build".`;

// LABEL_PATTERN and MAX_LABEL_LENGTH: a label is a Knative Service name (knative-limits says why 63 is enough).
export { LABEL_PATTERN, MAX_LABEL_LENGTH } from './knative-limits';

/**
 * What a stored label may look like: also the labels made before they had to start with a letter. Lookups
 * (by id or label) use this one so those functions still resolve; only new labels must match LABEL_PATTERN.
 */
export const LABEL_REF_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const RULE = 'a label is 1-63 lowercase letters, digits or dashes, starting with a letter and ending with a letter or digit';

/** Why `label` cannot name a new function (or a renamed one), or undefined when it can. */
export function labelProblem(label: unknown): string | undefined {
  if (typeof label !== 'string' || label === '') return `label must be a non-empty string (${RULE})`;
  if (label.length > MAX_LABEL_LENGTH) {
    return `label must be at most ${MAX_LABEL_LENGTH} characters, it has ${label.length} (${RULE}: Knative names a Service after it)`;
  }
  if (!/^[a-z]/.test(label)) return `label must start with a lowercase letter, not "${label[0]}" (${RULE}, so Knative takes it as a Service name)`;
  const bad = /[^-a-z0-9]/.exec(label);
  if (bad) return `label may contain only lowercase letters, digits and dashes, not "${bad[0]}" (${RULE})`;
  if (label.endsWith('-')) return `label must end with a letter or digit, not "-" (${RULE})`;
  const route = Object.prototype.hasOwnProperty.call(RESERVED_LABELS, label) ? RESERVED_LABELS[label] : undefined;
  if (route) return `label "${label}" is reserved: ${route}; choose another label`;
  return undefined;
}

/** class-validator rule for a new label: LABEL_PATTERN and not a reserved word, with the message of labelProblem. */
export function IsFunctionLabel(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isFunctionLabel',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => labelProblem(value) === undefined,
        defaultMessage: (args) => labelProblem(args?.value) ?? 'label is not valid',
      },
    });
}
