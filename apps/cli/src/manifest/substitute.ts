/**
 * ${VAR} and ${VAR:-default} in function.yaml values, from the environment of the person deploying. "$$" is a
 * literal dollar, so a value can still hold "${...}" for the function itself to read ("$${NOT_SUBSTITUTED}").
 */
const REFERENCE = /\$\$|\$\{([^}]*)\}|\$\{/g;
const INSIDE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

export class SubstitutionError extends Error {}

export function substituteVariables(text: string, env: Record<string, string | undefined>): string {
  return text.replace(REFERENCE, (whole: string, inside: string | undefined) => {
    if (whole === '$$') return '$';
    if (inside === undefined) throw new SubstitutionError('"${" is never closed; write ${NAME} (or $$ for a literal $)');
    const m = INSIDE.exec(inside);
    if (!m) throw new SubstitutionError(`"${whole}" is not a variable reference; write \${NAME} or \${NAME:-default} (or $$ for a literal $)`);
    const [, name, fallback] = m;
    const value = env[name];
    // As in the shell: ":-" also replaces an empty value.
    if (fallback !== undefined) return value ? value : fallback;
    if (value === undefined) {
      throw new SubstitutionError(`\${${name}} is not set in the environment (export ${name}=..., or write \${${name}:-default})`);
    }
    return value;
  });
}
