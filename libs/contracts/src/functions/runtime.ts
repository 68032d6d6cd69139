/** Runtime families the platform can run; the version a user names (python3.9, node20) is kept as given. */
export type RuntimeFamily = 'node' | 'python';

export const TEMPLATES = ['typescript', 'node', 'javascript', 'python'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

const RUNTIME_PATTERNS: Array<[RegExp, RuntimeFamily]> = [
  [/^(node|nodejs)(\d+(\.\d+)*)?(\.x)?$/i, 'node'],
  [/^python(3(\.\d+)?)?$/i, 'python'],
];

/** Every runtime name the platform can run: the families' patterns in one (what `runtime` is validated against). */
export const RUNTIME_PATTERN = new RegExp(RUNTIME_PATTERNS.map(([pattern]) => pattern.source).join('|'), 'i');

/** `node`, `nodejs20`, `python3.9` -> the family, or undefined when the platform cannot run it. */
export function runtimeFamily(runtime: string): RuntimeFamily | undefined {
  for (const [pattern, family] of RUNTIME_PATTERNS) {
    if (pattern.test(runtime.trim())) return family;
  }
  return undefined;
}

export function templateFamily(template: TemplateName): RuntimeFamily {
  return template === 'python' ? 'python' : 'node';
}

/** The template a runtime gets when the user names none. */
export function defaultTemplate(family: RuntimeFamily): TemplateName {
  return family === 'python' ? 'python' : 'node';
}

/** Where the handler code goes in a bundle when the user sends the code itself rather than files. */
export function defaultHandlerFile(template: TemplateName): string {
  switch (template) {
    case 'typescript':
      return 'handler.ts';
    case 'python':
      return 'handler.py';
    default:
      return 'handler.js';
  }
}
