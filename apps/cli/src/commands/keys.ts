import type { ApiKeyView, CreatedApiKey } from '@platform/contracts';
import { Command, Option } from 'commander';
import { ApiError, CliError, UsageError } from '../errors';
import { json, localTime, table } from '../output/format';
import { configFilePath, readConfigFile, writeConfigFile } from '../settings';
import { CommandContext } from './context';

const output = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']);
const collect = (v: string, acc: string[] = []) => [...acc, v];

/** `hks login --api-key K [--gateway URL]`: saves both in the config file, like `faas-cli login`. */
export function loginCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('login')
    .summary('save the gateway URL and an API key in the config file')
    .description('Save --api-key (and --gateway, when given) in the config file that hks reads (0600).')
    .action((_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const globals = cmd.optsWithGlobals<{ apiKey?: string; gateway?: string }>();
      const apiKey = globals.apiKey?.trim();
      if (!apiKey) throw new UsageError('hks login needs the key: hks login --api-key <key> [--gateway <url>]');
      const file = configFilePath(ctx.io.env);
      const current = readConfigFile(file);
      // Resolving checks the URL before it is saved.
      const gateway = globals.gateway ? ctx.client.baseUrl : current.gateway;
      writeConfigFile(file, { gateway, apiKey });
      ctx.note(`saved the API key${globals.gateway ? ` and gateway ${gateway}` : ''} in ${file}`);
    });
}

export function keysCommand(context: (cmd: Command) => CommandContext): Command {
  const keys = new Command('keys').alias('key').summary('create, list and revoke API keys (needs an admin key)');

  keys.addCommand(
    new Command('create')
      .summary('create an API key and print it (shown only this once)')
      .argument('<name>', 'what the key is for')
      .addOption(new Option('--scope <scope>', 'admin (every route) or invoke (only the functions named)').choices(['admin', 'invoke']))
      .option('--function <name>', 'function (name or id) an invoke key may call; repeat for several', collect)
      .addOption(output())
      .action(async (name: string, opts: { scope?: 'admin' | 'invoke'; function?: string[] }, cmd: Command) => {
        const ctx = context(cmd);
        const scope = opts.scope ?? (opts.function?.length ? 'invoke' : 'admin');
        if (scope === 'invoke' && !opts.function?.length) throw new UsageError('an invoke key needs --function NAME (repeat for several)');
        if (scope === 'admin' && opts.function?.length) throw new UsageError('an admin key may call every function: drop --function, or use --scope invoke');
        const body = scope === 'invoke' ? { name, scope, functions: opts.function } : { name, scope };
        const created = await ctx.client.call<CreatedApiKey>('POST', '/api/v1/keys', { body });
        if (ctx.format === 'json') return ctx.out(json(created));
        ctx.out(`${created.key}\n`);
        ctx.note(`created ${scope} key "${created.name}" (id ${created.id}); it is shown only this once`);
      }),
  );

  keys.addCommand(
    new Command('list')
      .alias('ls')
      .summary('list the API keys (never the keys themselves)')
      .addOption(output())
      .action(async (_opts: unknown, cmd: Command) => {
        const ctx = context(cmd);
        const items = await ctx.client.call<ApiKeyView[]>('GET', '/api/v1/keys');
        if (ctx.format === 'json') return ctx.out(json(items));
        ctx.out(
          table(
            ['ID', 'NAME', 'PREFIX', 'SCOPE', 'FUNCTIONS', 'CREATED', 'REVOKED'],
            items.map((k) => [
              k.id,
              k.name,
              k.prefix,
              k.scope,
              k.functions.length ? k.functions.join(',') : '-',
              localTime(k.createdAt),
              k.revokedAt ? localTime(k.revokedAt) : '-',
            ]),
          ),
        );
      }),
  );

  keys.addCommand(
    new Command('revoke')
      .summary('revoke an API key: it stops working within seconds')
      .argument('<id>', 'the key id (hks keys list shows them)')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const ctx = context(cmd);
        let revoked: ApiKeyView;
        try {
          revoked = await ctx.client.call<ApiKeyView>('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) throw new CliError(`API key ${id} does not exist (hks keys list shows the keys)`);
          throw err;
        }
        ctx.out(`revoked ${revoked.name} (${revoked.prefix}...)\n`);
      }),
  );
  return keys;
}
