/** Just enough of the Dockerfile and .dockerignore formats to check what an image build would do. */
import { readFileSync } from 'fs';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/** Stages with their instructions; line continuations joined, comments dropped, ARG defaults substituted in FROM. */
export function parseDockerfile(file: string): Stage[] {
  const text = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image, as, name] = args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      const base = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a, b) => globalArgs[a ?? b] ?? '');
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (upper === 'ARG' && stages.length === 0) {
      const [name, value] = args.split('=');
      globalArgs[name.trim()] = (value ?? '').trim();
    } else if (stages.length) stages[stages.length - 1].instructions.push({ keyword: upper, args });
  }
  return stages;
}

/** COPY/ADD arguments without flags: sources, then the destination. */
export function copyArguments(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      out += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Would the build context leave this path (relative to the context) out? Docker's rules: last match wins, `!` re-includes. */
export function excludedByDockerignore(ignoreFile: string, relPath: string): boolean {
  const patterns = readFileSync(ignoreFile, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const parts = relPath.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = globToRegExp((negated ? pattern.slice(1) : pattern).replace(/^\/+/, '').replace(/\/+$/, ''));
    if (candidates.some((c) => glob.test(c))) excluded = !negated;
  }
  return excluded;
}
