import type { AcceptedInvocation, CallbackKeyView, InvocationPage, InvocationView, RedriveManyResult } from '@platform/contracts';
import { INVOCATION_STATUSES, INVOCATIONS_PATH, isUuid } from '@platform/contracts';
import { Command, Option } from 'commander';
import { ApiError, CliError, UsageError } from '../errors';
import { fields, json, localTime, table } from '../output/format';
import { CommandContext } from './context';

const output = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']);

/** An invocation id as typed: checked here, so a typo is a usage error rather than the gateway's 400. */
function invocationId(id: string): string {
  if (!isUuid(id)) throw new UsageError(`"${id}" is not an invocation id (a UUID, as x-invocation-id and hks invocations list show them)`);
  return id;
}

/** The API's routes take a function id: a name is resolved to one. */
async function functionId(ctx: CommandContext, name: string): Promise<string> {
  return isUuid(name) ? name : (await ctx.getFunction(name)).id;
}

/** The deployer's 404 says "no such invocation"; the CLI says where to find the ids. */
async function about<T>(id: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError(`invocation ${id} does not exist (hks invocations list shows them)`);
    throw err;
  }
}

function attempts(v: InvocationView): string {
  return `${v.attempts.length}/${v.maxAttempts}`;
}

export function invocationsCommand(context: (cmd: Command) => CommandContext): Command {
  const inv = new Command('invocations')
    .alias('invocation')
    .summary('follow, cancel, redrive and replay invocations (needs an admin key)')
    .description(
      'Asynchronous invocations (hks function invoke NAME --async) are queued and run with retries; those whose every attempt failed are ' +
        'dead letters (status dead), which redrive queues again. Any recorded invocation can be replayed.',
    );

  inv.addCommand(
    new Command('list')
      .alias('ls')
      .summary('list asynchronous invocations, newest first')
      .option('--function <name>', 'only the invocations of this function (name or id)')
      .addOption(new Option('--status <status>', 'only those in this status (dead: the dead letters)').choices([...INVOCATION_STATUSES]))
      .option('--limit <n>', 'at most this many (1 to 500)', '50')
      .option('--before <cursor>', 'the page after the one that printed this cursor')
      .addOption(output())
      .action(async (opts: { function?: string; status?: string; limit: string; before?: string }, cmd: Command) => {
        const ctx = context(cmd);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit ${opts.limit} is not a whole number from 1 to 500`);
        const query = {
          functionId: opts.function === undefined ? undefined : await functionId(ctx, opts.function),
          status: opts.status,
          limit,
          before: opts.before,
        };
        const page = await ctx.client.call<InvocationPage>('GET', INVOCATIONS_PATH, { query });
        if (ctx.format === 'json') return ctx.out(json(page));
        if (!page.items.length) return ctx.note('no asynchronous invocations match');
        ctx.out(
          table(
            ['ID', 'FUNCTION', 'STATUS', 'ATTEMPTS', 'SOURCE', 'ACCEPTED', 'ERROR'],
            page.items.map((v) => [v.id, v.label, v.status, attempts(v), v.source, localTime(v.acceptedAt), v.error]),
          ),
        );
        if (page.next) ctx.note(`more: --before ${page.next}`);
      }),
  );

  inv.addCommand(
    new Command('get')
      .summary('show one invocation: status, attempts, result, callback')
      .argument('<id>', 'invocation id')
      .addOption(output())
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const ctx = context(cmd);
        const v = await about(id, () => ctx.client.call<InvocationView>('GET', `${INVOCATIONS_PATH}/${invocationId(id)}`));
        if (ctx.format === 'json') return ctx.out(json(v));
        ctx.out(
          fields([
            ['Id', v.id],
            ['Function', `${v.label} (${v.functionId})`],
            ['Status', v.status],
            ['Async', v.async ? 'yes' : 'no (answered at once; built from its events)'],
            ['Source', v.source],
            ['Version', v.version],
            ['Attempts', attempts(v)],
            ['Accepted', localTime(v.acceptedAt)],
            ['Next attempt', v.status === 'queued' ? localTime(v.nextAttemptAt) : undefined],
            ['Finished', localTime(v.finishedAt)],
            ['Result', v.result ? `HTTP ${v.result.statusCode}` : null],
            ['Error', v.error],
            ['Callback', v.callback ? `${v.callback.url} (${v.callback.status}, ${v.callback.attempts} attempts)` : undefined],
            ['Idempotency key', v.idempotencyKey ?? undefined],
            ['Replay of', v.replayOf ?? undefined],
          ]),
        );
        if (v.attempts.length) {
          ctx.out(
            '\n' +
              table(
                ['ATTEMPT', 'OUTCOME', 'STATUS', 'STARTED', 'DURATION', 'ERROR'],
                v.attempts.map((a) => [
                  a.number,
                  a.outcome ?? 'running',
                  a.statusCode,
                  localTime(a.startedAt),
                  a.durationMs === null ? null : `${Math.round(a.durationMs)} ms`,
                  a.error,
                ]),
              ),
          );
        }
      }),
  );

  inv.addCommand(
    new Command('cancel')
      .summary('cancel a queued invocation (a running or ended one cannot be)')
      .argument('<id>', 'invocation id')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const ctx = context(cmd);
        const v = await about(id, () => ctx.client.call<InvocationView>('POST', `${INVOCATIONS_PATH}/${invocationId(id)}/cancel`));
        ctx.out(`cancelled ${v.id} (${v.label})\n`);
      }),
  );

  inv.addCommand(
    new Command('redrive')
      .summary('queue a dead (or failed) invocation again with fresh attempts; --all: every dead letter')
      .argument('[id]', 'invocation id')
      .option('--all', 'every dead letter (of --function, when given)')
      .option('--function <name>', 'with --all: only the dead letters of this function (name or id)')
      .addOption(output())
      .action(async (id: string | undefined, opts: { all?: boolean; function?: string }, cmd: Command) => {
        const ctx = context(cmd);
        if (id !== undefined && opts.all) throw new UsageError('give an invocation id or --all, not both');
        if (opts.function !== undefined && !opts.all) throw new UsageError('--function goes with --all: hks invocations redrive --all --function NAME');
        if (opts.all) {
          const body = opts.function === undefined ? {} : { functionId: await functionId(ctx, opts.function) };
          const done = await ctx.client.call<RedriveManyResult>('POST', `${INVOCATIONS_PATH}/redrive`, { body });
          if (ctx.format === 'json') return ctx.out(json(done));
          ctx.out(done.ids.map((x) => `${x}\n`).join(''));
          ctx.note(`queued ${done.redriven} dead letter${done.redriven === 1 ? '' : 's'} again`);
          return;
        }
        if (id === undefined) throw new UsageError('give the invocation id to redrive, or --all for every dead letter');
        const v = await about(id, () => ctx.client.call<InvocationView>('POST', `${INVOCATIONS_PATH}/${invocationId(id)}/redrive`));
        if (ctx.format === 'json') return ctx.out(json(v));
        ctx.out(`queued ${v.id} (${v.label}) again: ${v.maxAttempts} attempts\n`);
      }),
  );

  inv.addCommand(
    new Command('replay')
      .summary('run a recorded invocation again, as a new asynchronous one with the same request')
      .argument('<id>', 'invocation id (asynchronous or not)')
      .option('--original', 'on the version the original ran, not the one deployed now')
      .addOption(output())
      .action(async (id: string, opts: { original?: boolean }, cmd: Command) => {
        const ctx = context(cmd);
        const body = opts.original ? { version: 'original' } : {};
        const accepted = await about(id, () => ctx.client.call<AcceptedInvocation>('POST', `${INVOCATIONS_PATH}/${invocationId(id)}/replay`, { body }));
        if (ctx.format === 'json') return ctx.out(json(accepted));
        ctx.out(`${accepted.invocationId}\n`);
        ctx.note(`replaying ${id} as ${accepted.invocationId}; follow it with: hks invocations get ${accepted.invocationId}`);
      }),
  );

  inv.addCommand(
    new Command('callback-key')
      .summary('print the public key that verifies callback signatures (PEM)')
      .addOption(output())
      .action(async (_opts: unknown, cmd: Command) => {
        const ctx = context(cmd);
        const key = await ctx.client.call<CallbackKeyView>('GET', `${INVOCATIONS_PATH}/callback-key`);
        if (ctx.format === 'json') return ctx.out(json(key));
        ctx.out(key.publicKeyPem.endsWith('\n') ? key.publicKeyPem : `${key.publicKeyPem}\n`);
        ctx.note(`${key.algorithm}; ${key.scheme}`);
      }),
  );
  return inv;
}
