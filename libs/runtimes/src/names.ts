import { RUNTIMES } from '../runtimes';
import type { RuntimeDescriptor, RuntimeTemplate } from './descriptor';

// What the runtimes are called, without loading the rest of the library (the CLI imports this alone:
// `@platform/runtimes/names`, a few milliseconds instead of the build and sandbox code and the contracts).

export { RUNTIMES };

/** Names the platform runs, for messages: "node (node, nodejs, nodejs20, node20.x); python (...)". */
export function runtimeNames(): string {
  return RUNTIMES.map((r) => `${r.name} (${r.aliases.join(', ')})`).join('; ');
}

/** `nodejs16` -> the node descriptor and the version asked for ("16"); undefined when no runtime has the name. */
export function matchRuntime(runtime: string): { descriptor: RuntimeDescriptor; version?: string } | undefined {
  const name = runtime.trim();
  for (const descriptor of RUNTIMES) {
    const m = descriptor.names.exec(name);
    if (m) return { descriptor, version: m.groups?.version };
  }
  return undefined;
}

/** The family of a runtime name, or undefined when the platform cannot run it. */
export function runtimeFamily(runtime: string): string | undefined {
  return matchRuntime(runtime)?.descriptor.name;
}

/** Every template of every runtime, with the runtime it belongs to. */
export function allTemplates(): Array<RuntimeTemplate & { runtime: string }> {
  return RUNTIMES.flatMap((r) => r.templates.map((t) => ({ ...t, runtime: r.name })));
}

/** The runtime a template belongs to, or undefined for an unknown template. */
export function templateRuntime(template: string): string | undefined {
  return allTemplates().find((t) => t.name === template)?.runtime;
}

/** A runtime's template by name (its default without one), or undefined when the runtime has no such template. */
export function findTemplate(family: string, template?: string | null): RuntimeTemplate | undefined {
  const d = RUNTIMES.find((r) => r.name === family);
  if (!d) return undefined;
  return template ? d.templates.find((t) => t.name === template) : d.templates[0];
}
