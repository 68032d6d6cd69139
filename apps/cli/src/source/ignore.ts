/**
 * Which files of a function's directory are not uploaded: the usual clutter, plus the patterns of `.hksignore`,
 * written like `.gitignore` (globs, "dir/" for directories only, "/x" anchored at the top, "!" to take back).
 */
// "/.hks/" is where the platform keeps its own files in a bundle (and a local install its data): never uploaded.
export const ALWAYS_IGNORED = ['.git/', 'node_modules/', '__pycache__/', '.venv/', '/.hks/'];
export const IGNORE_FILE = '.hksignore';

interface Rule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegex(glob: string, anchored: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // "**/" = any number of directories, "/**" = everything below, "**" alone = anything.
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re +=
          '[' +
          glob
            .slice(i + 1, end)
            .replace(/^!/, '^')
            .replace(/\\/g, '\\\\') +
          ']';
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i];
    else re += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return new RegExp(`^${anchored ? '' : '(?:.*/)?'}${re}$`);
}

export class IgnoreRules {
  private readonly rules: Rule[] = [];

  constructor(patterns: string[] = []) {
    for (const p of [...ALWAYS_IGNORED, ...patterns]) this.add(p);
  }

  static parse(text: string): string[] {
    return text
      .split(/\r?\n/)
      .map((l) => l.replace(/(?<!\\)\s+$/, ''))
      .filter((l) => l && !l.startsWith('#'));
  }

  private add(pattern: string): void {
    let p = pattern;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1);
    const dirOnly = p.endsWith('/');
    if (dirOnly) p = p.slice(0, -1);
    // A slash anywhere but at the end ties the pattern to the top of the directory, as in .gitignore.
    const anchored = p.includes('/');
    if (p.startsWith('/')) p = p.slice(1);
    if (!p) return;
    this.rules.push({ regex: globToRegex(p, anchored), negate, dirOnly });
  }

  /** `relPath` uses "/" separators; the last matching rule decides. */
  ignores(relPath: string, isDir: boolean): boolean {
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(relPath)) ignored = !rule.negate;
    }
    return ignored;
  }
}
