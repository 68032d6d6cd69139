/** "<module>.<function>" or "<module>.*"; the module may name a sub-folder ("src/app.handle"). */
export const ENTRYPOINT_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_./-]*\.([A-Za-z_$][A-Za-z0-9_$]*|\*)$/;

/** Entry point of a function whose handler code was sent as such (placed in defaultHandlerFile). */
export const AUTO_ENTRYPOINT = 'handler.*';

/** Modules tried, in order, when files come without an entry point. */
export const DEFAULT_ENTRY_MODULES = ['handler', 'function', 'main', 'index', 'app'] as const;

/** Folder of the bundle the platform writes its manifest into; user files may not use it. */
export const RESERVED_BUNDLE_DIR = '.hks';

export function splitEntrypoint(entrypoint: string): { module: string; fn: string } {
  const dot = entrypoint.lastIndexOf('.');
  return { module: entrypoint.slice(0, dot), fn: entrypoint.slice(dot + 1) };
}

/** Why a path in `files` is unacceptable, or undefined when it is fine. */
export function filePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'an empty file name';
  if (path.length > 255) return `"${path.slice(0, 40)}..." is longer than 255 characters`;
  if (path.includes('\\')) return `"${path}" uses backslashes; use "/" between folders`;
  if (path.includes('\0')) return `"${path}" contains a NUL character`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return `"${path}" is absolute; paths must be relative to the function's root`;
  const segments = path.split('/');
  if (segments.includes('..')) return `"${path}" contains ".."; paths must stay inside the function's root`;
  if (segments.some((s) => s === '' || s === '.')) return `"${path}" has an empty or "." segment; write it as a plain relative path`;
  if (segments[0] === RESERVED_BUNDLE_DIR) return `"${path}" is inside "${RESERVED_BUNDLE_DIR}/", which the platform reserves`;
  return undefined;
}
