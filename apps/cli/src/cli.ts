import { Command, CommanderError, Option } from 'commander';
import { CommandContext } from './commands/context';
import { debugCommand } from './commands/debug';
import { deployCommand } from './commands/deploy';
import { devCommand } from './commands/dev';
import { invocationsCommand } from './commands/invocations';
import { invokeCommand } from './commands/invoke';
import { keysCommand, loginCommand } from './commands/keys';
import { localTestCommand } from './commands/local-test';
import { logsCommand } from './commands/logs';
import { deleteCommand, describeCommand, listCommand, undeployCommand } from './commands/manage';
import { rollbackCommand, trafficCommand, versionsCommand } from './commands/versions';
import { metricsCommand, statsCommand } from './commands/stats';
import { CliError } from './errors';
import { CliIO } from './io';
import { DEFAULT_GATEWAY } from './settings';

const VERSION = '0.1.0';

export function buildProgram(io: CliIO): Command {
  const context = (cmd: Command) => new CommandContext(io, cmd.optsWithGlobals());
  const program = new Command('hks')
    .description('Deploy, run and watch functions on the hks serverless platform.')
    .version(VERSION, '-V, --version', 'print the version of hks')
    .addOption(new Option('--gateway <url>', `gateway URL (default: HKS_GATEWAY_URL, the config file, or ${DEFAULT_GATEWAY})`))
    .addOption(new Option('--api-key <key>', 'API key sent as a Bearer token (default: HKS_API_KEY or the config file)'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  hks function deploy hello-world --runtime python3.9 --handler function.handle --trigger http\n' +
        '  hks function invoke hello-world --data \'{"name": "Alice"}\'\n' +
        '  hks function dev ./hello-world\n' +
        '  hks function debug --attach hello-world\n' +
        '  hks function invoke hello-world --async --callback-url https://example.com/hooks/hks\n' +
        '  hks invocations list --status dead\n' +
        '  hks function logs hello-world --follow\n' +
        '  hks function rollback hello-world --to 2\n' +
        '  hks login --api-key hks_... --gateway http://127.0.0.1:8080\n' +
        '  hks keys create ci --scope invoke --function hello-world\n' +
        '\nSettings file: ~/.config/hks/config.yaml with "gateway:" and "apiKey:" (or $HKS_CONFIG).',
    )
    .showSuggestionAfterError();

  const fn = new Command('function')
    .alias('fn')
    .summary('deploy, invoke, test and inspect functions')
    .description('Deploy, invoke, test and inspect functions.');
  for (const make of [
    deployCommand,
    devCommand,
    debugCommand,
    invokeCommand,
    localTestCommand,
    logsCommand,
    statsCommand,
    metricsCommand,
    listCommand,
    describeCommand,
    deleteCommand,
    undeployCommand,
    versionsCommand,
    rollbackCommand,
    trafficCommand,
  ]) {
    fn.addCommand(make(context));
  }
  program.addCommand(fn);
  // `hks invoke NAME` as the issue spells it: the same command as `hks function invoke`, kept out of the top help.
  program.addCommand(invokeCommand(context), { hidden: true });
  program.addCommand(loginCommand(context));
  program.addCommand(keysCommand(context));
  program.addCommand(invocationsCommand(context));

  // Every (sub)command reports through our IO and throws instead of exiting, so runCli decides the exit code.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text) });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Runs `hks` with `argv` (without "node hks") and returns the exit code: 0 done, 1 failed, 2 bad usage. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end well; a missing command, unknown option or bad value is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return 2;
    }
    if (err instanceof CliError) {
      io.stderr(`error: ${err.message}\n`);
      return err.exitCode;
    }
    // Not one of ours: still one line, and the stack only when asked for.
    io.stderr(`error: ${(err as Error)?.message ?? String(err)}\n`);
    if (io.env.HKS_DEBUG) io.stderr(`${(err as Error)?.stack ?? ''}\n`);
    return 1;
  }
}
