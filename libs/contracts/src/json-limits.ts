/**
 * Limits on JSON the platform parses from outside. JSON.parse itself copes with deep nesting, but
 * everything that walks the value afterwards (validation, cloning, serialising, the worker shims) is
 * recursive, so a few kilobytes of `[[[[...` can overflow a stack. Every parser of untrusted JSON checks
 * the text with `jsonProblem` first and answers 400 with the message.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of arrays and objects in JSON text, counted without parsing (strings skipped). */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > deepest && (deepest = depth) > stopAt) return deepest;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return deepest;
}

/** Why text may not be parsed as JSON from outside, or undefined when it may. */
export function textProblem(text: string, what = 'the request body'): string | undefined {
  if (text.includes('\u0000')) return `${what} contains a NUL character (\\u0000 escapes are fine)`;
  return undefined;
}

/** Why JSON text is refused (NUL, invalid UTF-8, nesting deeper than `maxDepth`), or undefined. */
export function jsonProblem(text: string, maxDepth = MAX_JSON_DEPTH, what = 'the request body'): string | undefined {
  const bad = textProblem(text, what);
  if (bad) return bad;
  if (jsonDepth(text, maxDepth) > maxDepth) return `${what} nests arrays and objects deeper than ${maxDepth} levels`;
  return undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether bytes are valid UTF-8 (decoding with fatal: true throws on the first bad sequence). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** jsonProblem for raw bytes, which must be valid UTF-8 first. */
export function jsonBytesProblem(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH, what = 'the request body'): string | undefined {
  if (!isValidUtf8(bytes)) return `${what} is not valid UTF-8`;
  return jsonProblem(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), maxDepth, what);
}
