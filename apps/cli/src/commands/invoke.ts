import { Command, Option } from 'commander';
import { readFileSync } from 'fs';
import * as path from 'path';
import { CliError, UsageError } from '../errors';
import { apiError } from '../http/gateway-client';
import { json, showValue } from '../output/format';
import { CommandContext } from './context';

/**
 * --data as JSON when it parses ('{"a": 1}', '42', '"text"'), else as the plain string it is; "@file.json" reads
 * a file and "-" never appears here because stdin is not read (a hanging CLI is worse than a missing feature).
 */
export function parseData(raw: string | undefined, cwd: string): unknown {
  if (raw === undefined) return {};
  let text = raw;
  if (raw.startsWith('@')) {
    const file = path.resolve(cwd, raw.slice(1));
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new UsageError(`--data ${raw}: cannot read ${file}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    if (raw.startsWith('@')) throw new UsageError(`--data ${raw}: the file is not valid JSON`);
    return text;
  }
}

interface InvokeOptions {
  data?: string;
  verbose?: boolean;
  timeout: string;
  async?: boolean;
  callbackUrl?: string;
  idempotencyKey?: string;
}

/** The headers that ask for an asynchronous invocation (a callback URL implies it). */
export function asyncHeaders(opts: InvokeOptions): Record<string, string> {
  const asked = opts.async || opts.callbackUrl !== undefined;
  if (!asked) {
    if (opts.idempotencyKey !== undefined) throw new UsageError('--idempotency-key applies to asynchronous invocations: add --async');
    return {};
  }
  if (opts.callbackUrl !== undefined && !/^https?:\/\/\S+$/i.test(opts.callbackUrl)) {
    throw new UsageError(`--callback-url ${opts.callbackUrl} is not an http:// or https:// URL`);
  }
  return {
    prefer: 'respond-async',
    ...(opts.callbackUrl !== undefined ? { 'x-callback-url': opts.callbackUrl } : {}),
    ...(opts.idempotencyKey !== undefined ? { 'idempotency-key': opts.idempotencyKey } : {}),
  };
}

export function invokeCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('invoke')
    .summary('call a deployed function and print its response')
    .argument('<name>', 'function name or id')
    .option('-d, --data <json>', 'what the handler receives: JSON (\'{"file": "s3://bucket/data.csv"}\'), text, or @file.json', undefined)
    .option('-v, --verbose', 'also print the status, invocation id, cold start and duration (on stderr)')
    .option('--timeout <seconds>', 'how long to wait for the answer', '900')
    .option('--async', 'do not wait: the platform queues it (202) and runs it with retries; prints the invocation id and where to follow it')
    .option('--callback-url <url>', 'asynchronous, and POST the outcome to this http(s) URL when it ends (signed: hks invocations callback-key)')
    .option('--idempotency-key <key>', 'asynchronous: the same key again gives the first invocation instead of a new one')
    .addOption(new Option('-o, --output <format>', 'table (the body as it is) or json ({status, headers, body})').choices(['table', 'json']))
    .action(async (name: string, opts: InvokeOptions, cmd: Command) => {
      const ctx = context(cmd);
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout ${opts.timeout} is not a number of seconds`);
      const data = parseData(opts.data, ctx.io.cwd);
      const answer = await ctx.client.send('POST', `/api/v1/functions/invoke/${encodeURIComponent(name)}`, {
        body: { data },
        timeoutMs: seconds * 1000,
        headers: asyncHeaders(opts),
      });
      const h = (k: string) => answer.headers.get(k);
      if (opts.verbose) {
        ctx.note(
          `HTTP ${answer.status}  invocation ${h('x-invocation-id') ?? '-'}  cold start ${h('x-cold-start') ?? '-'}  duration ${h('x-duration-ms') ?? '-'} ms`,
        );
      }
      if (answer.status >= 400) {
        const err = apiError(answer);
        if (answer.status === 404) throw new CliError(`function "${name}" does not exist (hks function list shows the functions)`);
        throw new CliError(`${err.message} (HTTP ${answer.status}${h('x-invocation-id') ? `, invocation ${h('x-invocation-id')}` : ''})`);
      }
      if (answer.status === 202) {
        // Accepted: the AcceptedInvocation, whatever the format (it is what a script needs to follow it).
        ctx.out(json(answer.json ?? answer.text));
        const accepted = answer.json as { invocationId?: string } | undefined;
        if (accepted?.invocationId) ctx.note(`queued; follow it with: hks invocations get ${accepted.invocationId}`);
        return;
      }
      if (ctx.format === 'json') {
        ctx.out(
          json({ status: answer.status, invocationId: h('x-invocation-id'), headers: Object.fromEntries(answer.headers), body: answer.json ?? answer.text }),
        );
        return;
      }
      const body = answer.json !== undefined ? showValue(answer.json) : answer.text;
      ctx.out(body.endsWith('\n') || body === '' ? body : `${body}\n`);
    });
}
