/** An image reference split into its parts: registry host, repository, and a tag or a digest. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Parses "127.0.0.1:5000/base/node:20" or "registry.example.com/ns/app@sha256:...". The registry
 * part is required: the builder only talks to registries it is told about, never a default one.
 */
export function parseImageReference(ref: string): ImageReference {
  const problem = (why: string) => new Error(`image reference "${ref}" ${why}; expected e.g. 127.0.0.1:5000/base/node:20`);
  const slash = ref.indexOf('/');
  if (slash <= 0) throw problem('names no registry');
  const registry = ref.slice(0, slash);
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(registry)) throw problem(`has an invalid registry "${registry}"`);
  let rest = ref.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw problem('has an invalid digest');
  }
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw problem(`has an invalid tag "${tag}"`);
  }
  if (!REPOSITORY.test(rest)) throw problem(`has an invalid repository "${rest}" (lowercase letters, digits, ".", "_", "-" and "/")`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: rest, tag, digest };
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.digest ? `@${r.digest}` : `:${r.tag ?? 'latest'}`}`;
}

/** Loopback registries speak plain HTTP by default; everything else HTTPS unless told otherwise. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
