/** Bundles are served by the builder at `${BUILDER_URL}${artifactPath(bundleDigest)}`. */
export function artifactPath(bundleDigest: string): string {
  const hex = parseSha256Digest(bundleDigest);
  if (!hex) throw new Error(`"${bundleDigest}" is not a sha256 digest (sha256:<64 hex digits>)`);
  return `/artifacts/sha256/${hex}`;
}

/** "sha256:<hex>" -> "<hex>", or undefined when it is not one. */
export function parseSha256Digest(digest: string): string | undefined {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  return m ? m[1] : undefined;
}
