import { Command, Option } from 'commander';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import type { LocalRunResult } from '@platform/runtimes';
import { CliError, UsageError } from '../errors';
import { loadFunctionYaml, MANIFEST_FILE } from '../manifest/function-yaml';
import { json, showValue } from '../output/format';
import { collectFiles } from '../source/collect';
import { CommandContext } from './context';
import { buildFunctionRequest, DeployFlags } from './deploy-spec';
import { parseData } from './invoke';

interface TestOptions extends Omit<DeployFlags, 'memory'> {
  data?: string;
  dir?: string;
  file?: string;
  verbose?: boolean;
  keep?: boolean;
}

export function localTestCommand(context: (cmd: Command) => CommandContext): Command {
  const collect = (v: string, acc: string[] = []) => [...acc, v];
  return new Command('test')
    .summary('run the function in the current directory locally, without the platform')
    .description(
      'Builds the function the way the platform does (dependencies, TypeScript) into a temporary directory and runs ' +
        'it once with the runtime shim, printing its response; its output (print, console.log) goes to stderr.',
    )
    .argument('[name]', `function name (default: name in ${MANIFEST_FILE}); only used in messages`)
    .option('-d, --data <json>', 'what the handler receives: JSON, text, or @file.json')
    .option('--runtime <runtime>', 'python3.11, nodejs20, ...')
    .option('--handler <module.function>', 'entry point, e.g. function.handle')
    .option('--template <template>', 'typescript, node, javascript or python')
    .option('--env <NAME=value>', 'environment variable; repeat for several', collect)
    .option('--timeout <duration>', 'time limit, e.g. 30s (memory limits apply on the platform only)')
    .option('--dir <path>', 'directory of the function (default: the current directory)')
    .option('-f, --file <path>', `settings file (default: ${MANIFEST_FILE})`)
    .option('-v, --verbose', 'print the build log as it happens')
    .option('--keep', 'keep the built bundle directory and print where it is')
    .addOption(new Option('-o, --output <format>', 'table (the body as it is) or json ({statusCode, headers, body, logs})').choices(['table', 'json']))
    .action(async (name: string | undefined, opts: TestOptions, cmd: Command) => {
      const ctx = context(cmd);
      const dir = path.resolve(ctx.io.cwd, opts.dir ?? '.');
      if (opts.file && !existsSync(path.resolve(dir, opts.file))) throw new UsageError(`${opts.file} does not exist in ${dir}`);
      const manifest = loadFunctionYaml(dir, ctx.io.env, opts.file ?? MANIFEST_FILE);
      // The name is not needed to run locally; a placeholder keeps the request valid when there is none.
      const request = buildFunctionRequest(name ?? manifest?.name ?? 'local-test', manifest, opts, collectFiles(dir));
      const data = parseData(opts.data, ctx.io.cwd);
      // Loaded here only: the build pipeline is big and no other command needs it.
      const runtimes = await import('@platform/runtimes');
      // The interpreter the platform would pick here (python3.9 on pyenv's 3.9, or the nearest newer one, said so).
      let resolved;
      try {
        resolved = runtimes.resolveRuntime(request.runtime);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (resolved.resolved.warning) ctx.note(`warning: ${resolved.resolved.warning}`);
      const family = resolved.resolved.language;
      const template = runtimes.templateOf(family, request.template).name;
      const workDir = mkdtempSync(path.join(tmpdir(), 'hks-test-'));
      // The sandboxed worker runs as an unprivileged user, which must be able to read the bundle.
      chmodSync(workDir, 0o755);
      const bundleDir = path.join(workDir, 'bundle');
      let log = '';
      const sink = (text: string) => {
        log += text;
        if (opts.verbose) ctx.io.stderr(text);
      };
      try {
        try {
          const source = {
            template,
            runtime: request.runtime,
            runtimeVersion: resolved.resolved.version ?? undefined,
            family,
            entrypoint: request.handler,
            files: request.files,
          };
          await runtimes.prepareWorkspace(bundleDir, source, sink, {
            node: { registry: ctx.io.env.HKS_NPM_REGISTRY },
            python: { python: ctx.io.env.HKS_PYTHON, wheelhouse: ctx.io.env.HKS_PIP_WHEELHOUSE, indexUrl: ctx.io.env.HKS_PIP_INDEX_URL },
          });
        } catch (err) {
          if (!(err instanceof runtimes.BuildFailure)) throw err;
          if (!opts.verbose) printTail(ctx, log);
          throw new CliError(`build failed: ${err.message}`);
        }
        const config = request.config;
        const result = await runtimes.runLocally({
          bundleDir,
          family,
          runtimeBin: resolved.interpreter.realPath,
          entrypoint: request.handler,
          data,
          env: { ...(config.env ?? {}) },
          timeoutMs: config.resources?.timeoutMs ?? 30_000,
          egress: config.network?.egress ?? false,
        });
        report(ctx, result);
        if (opts.keep) ctx.note(`bundle kept in ${bundleDir}`);
      } finally {
        if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
      }
    });
}

function printTail(ctx: CommandContext, log: string): void {
  const lines = log
    .trimEnd()
    .split('\n')
    .filter((l) => l.trim());
  if (lines.length)
    ctx.note(
      lines
        .slice(-40)
        .map((l) => `  | ${l}`)
        .join('\n'),
    );
}

function report(ctx: CommandContext, r: LocalRunResult): void {
  if (r.logs) ctx.io.stderr(r.logs.endsWith('\n') ? r.logs : `${r.logs}\n`);
  const body = r.json !== undefined ? showValue(r.json) : r.text;
  if (r.error) throw new CliError(`the function failed (HTTP ${r.statusCode}): ${r.error.name}: ${r.error.message}`);
  if (ctx.format === 'json') {
    ctx.out(json({ statusCode: r.statusCode, headers: r.headers, body: r.json ?? r.text, logs: r.logs, durationMs: r.durationMs, sandboxed: r.sandboxed }));
  } else {
    ctx.out(body.endsWith('\n') || body === '' ? body : `${body}\n`);
  }
  if (r.statusCode >= 400) throw new CliError(`the function answered HTTP ${r.statusCode}`);
}
