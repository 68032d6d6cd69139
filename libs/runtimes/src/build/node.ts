import { existsSync } from 'fs';
import * as path from 'path';
import { buildStepEnv, firstMatchingLine, runCommand } from './command';
import { BuildFailure, BuildLogSink } from './errors';

export interface NpmOptions {
  /** Registry URL overriding npm's own configuration (HKS_NPM_REGISTRY). */
  registry?: string;
  /** The npm executable; `npm` from PATH by default. */
  npmCommand?: string;
  timeoutMs?: number;
}

/** Installs the production dependencies of a package.json, if the function ships one. */
export async function npmInstall(dir: string, log: BuildLogSink, o: NpmOptions = {}): Promise<boolean> {
  if (!existsSync(path.join(dir, 'package.json'))) return false;
  const args = ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-update-notifier'];
  if (o.registry) args.push(`--registry=${o.registry}`);
  const result = await runCommand(o.npmCommand ?? 'npm', args, {
    cwd: dir,
    log,
    timeoutMs: o.timeoutMs,
    env: buildStepEnv({ npm_config_color: 'false', npm_config_progress: 'false' }),
  });
  if (result.code !== 0) throw new BuildFailure(npmFailure(result.output));
  return true;
}

/** Turns npm's error output into the one line a person needs, naming the package when there is one. */
export function npmFailure(output: string): string {
  const notFound = /npm (?:error|ERR!) 404 .*'((?:@[^/'\s]+\/)?[^@'\s]+)(?:@([^'\s]*))?'/.exec(output);
  if (notFound) {
    const range = notFound[2] ? ` (${notFound[2]})` : '';
    return `npm install failed: package "${notFound[1]}"${range} was not found in the npm registry`;
  }
  const notFoundUrl = /npm (?:error|ERR!) 404 Not Found - GET (\S+)/.exec(output);
  if (notFoundUrl) {
    const name = decodeURIComponent(notFoundUrl[1].replace(/^[a-z]+:\/\/[^/]+\//, '').split('/-/')[0]);
    return `npm install failed: package "${name}" was not found in the npm registry`;
  }
  const noVersion = /No matching version found for ((?:@[^/\s]+\/)?[^@\s]+)@(\S+?)\.?(?:\s|$)/.exec(output);
  if (noVersion) return `npm install failed: no version of package "${noVersion[1]}" matches "${noVersion[2]}"`;
  const line = firstMatchingLine(output, [/^npm (error|ERR!) (?!code\b)(?!A complete log)/]);
  return `npm install failed: ${line?.replace(/^npm (error|ERR!)\s*/, '') ?? 'npm exited with an error (see the build log)'}`;
}
