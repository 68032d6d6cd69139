import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';
import { IGNORE_FILE, IgnoreRules } from './ignore';

/** The registry's limits (MAX_FILES, MAX_FILES_BYTES): said here before uploading, with what to do about it. */
export const MAX_UPLOAD_BYTES = 8 * 1024 * 1024;
export const MAX_FILES = 1000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The function's files as the API takes them: relative "/" paths to UTF-8 text, or "base64:..." for anything
 * that is not text (and for text that itself starts with "base64:", so it is not mistaken for an encoding).
 * Sorted, so the same directory always gives the same request and the builder's cache can hit.
 */
export function collectFiles(dir: string): Record<string, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const ignoreFile = path.join(dir, IGNORE_FILE);
  const rules = new IgnoreRules(existsSync(ignoreFile) ? IgnoreRules.parse(readFileSync(ignoreFile, 'utf8')) : []);
  const files: Record<string, string> = {};
  let total = 0;
  let count = 0;

  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      // Symbolic links are followed once (a linked shared module is common); a dangling one is an error.
      let stat;
      try {
        stat = lstatSync(childAbs).isSymbolicLink() ? statSync(childAbs) : lstatSync(childAbs);
      } catch {
        throw new UsageError(`${childRel} is a broken symbolic link; remove it or add it to ${IGNORE_FILE}`);
      }
      if (rules.ignores(childRel, stat.isDirectory())) continue;
      if (stat.isDirectory()) {
        walk(childAbs, childRel);
        continue;
      }
      if (!stat.isFile()) continue;
      const content = encodeFile(readFileSync(childAbs));
      total += Buffer.byteLength(content, 'utf8');
      count += 1;
      if (total > MAX_UPLOAD_BYTES || count > MAX_FILES) {
        throw new UsageError(
          `${dir} holds more than ${count > MAX_FILES ? `${MAX_FILES} files` : `${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`}; ` +
            `list what should not be uploaded in ${IGNORE_FILE} (dependencies are installed at build time from package.json or requirements.txt)`,
        );
      }
      files[childRel] = content;
    }
  };
  walk(dir, '');
  return files;
}

export function encodeFile(content: Buffer): string {
  if (!content.includes(0)) {
    try {
      const text = utf8.decode(content);
      if (!text.startsWith('base64:')) return text;
    } catch {
      // not UTF-8: sent as base64 below
    }
  }
  return `base64:${content.toString('base64')}`;
}
