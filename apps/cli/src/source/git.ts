import { execFile } from 'child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { CliError, UsageError } from '../errors';

export interface GitSource {
  url: string;
  /** Directory of the function inside the repository. */
  subdir?: string;
  /** Branch or tag (shallow clone), or a commit (full clone, then checkout). */
  ref?: string;
}

function git(args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // No prompt for credentials: a private repository without them should fail, not hang the CLI.
    execFile('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new CliError('git is not installed; install it to deploy from a repository'));
      const why =
        stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /^(fatal|error):/.test(l))[0] ??
        stderr.trim().split('\n').pop() ??
        err.message;
      reject(new CliError(why.replace(/^(fatal|error):\s*/, '')));
    });
  });
}

/** Clones the repository into a temporary directory; `cleanup()` removes it. */
export async function checkoutGitSource(source: GitSource): Promise<{ dir: string; cleanup: () => void }> {
  const root = mkdtempSync(path.join(tmpdir(), 'hks-git-'));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  const target = path.join(root, 'repo');
  try {
    const url = source.url;
    try {
      await git(['clone', '--quiet', '--depth', '1', ...(source.ref ? ['--branch', source.ref] : []), '--', url, target]);
    } catch (err) {
      // --branch takes names only; a commit needs the history.
      if (!source.ref || !/^[0-9a-f]{4,40}$/i.test(source.ref)) throw err;
      rmSync(target, { recursive: true, force: true });
      await git(['clone', '--quiet', '--no-checkout', '--', url, target]);
      await git(['checkout', '--quiet', source.ref], target);
    }
    const dir = path.resolve(target, source.subdir ?? '.');
    if (!dir.startsWith(target)) throw new UsageError(`--git-path ${source.subdir} points outside the repository`);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new UsageError(`${source.url} has no directory ${source.subdir}${source.ref ? ` at ${source.ref}` : ''}`);
    }
    return { dir, cleanup };
  } catch (err) {
    cleanup();
    if (err instanceof CliError && !(err instanceof UsageError)) {
      throw new CliError(`cannot clone ${source.url}${source.ref ? ` at ${source.ref}` : ''}: ${err.message}`);
    }
    throw err;
  }
}
