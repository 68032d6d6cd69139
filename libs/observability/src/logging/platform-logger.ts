import type { LoggerService } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import pino, { DestinationStream, Logger as Pino } from 'pino';
import { InvalidSettingsError } from '@platform/config';
import { LogContexts } from './log-context';

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const RANK: Record<LogLevelName, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** The setting that overrides LOG_LEVEL for one service: GATEWAY_LOG_LEVEL, EVENT_STORE_LOG_LEVEL, ... */
export function serviceLevelSetting(service: string): string {
  const prefix = service === 'function-registry' ? 'REGISTRY' : service.toUpperCase().replace(/-/g, '_');
  return `${prefix}_LOG_LEVEL`;
}

/** A service's log level: <SERVICE>_LOG_LEVEL, else LOG_LEVEL, else info; a name that is no level is refused. */
export function serviceLogLevel(service: string, env: NodeJS.ProcessEnv = process.env, fallback?: string): LogLevelName {
  const name = serviceLevelSetting(service);
  for (const [setting, value] of [
    [name, env[name]],
    ['LOG_LEVEL', fallback ?? env.LOG_LEVEL],
  ] as const) {
    if (value === undefined || value === '') continue;
    if (!(value in RANK)) throw new InvalidSettingsError([`${setting}=${value} must be one of ${Object.keys(RANK).join(', ')}`]);
    return value as LogLevelName;
  }
  return 'info';
}

/** LOG_FORMAT=pretty: one readable line per entry, for a terminal. */
function prettyLine(json: string): string {
  const o = JSON.parse(json) as Record<string, string | undefined>;
  const ids = [o.invocationId && `invocation=${o.invocationId}`, o.traceId && `trace=${o.traceId}`].filter(Boolean).join(' ');
  const where = o.context ? `${o.service}/${o.context}` : o.service;
  return `${o.time} ${String(o.level).toUpperCase().padEnd(5)} [${where}] ${o.msg ?? ''}${ids ? ` (${ids})` : ''}\n${o.stack ? `${o.stack}\n` : ''}`;
}

/** Each service's level, by name: one process holds six services, each with its own. */
const levels = new Map<string, number>();
let root: Pino | undefined;
let destination: DestinationStream | undefined;

/** Where the lines go instead of stdout (tests read them); before the first line is written. */
export function useLogDestination(stream: DestinationStream): void {
  destination = stream;
  root = undefined;
}

function rootLogger(): Pino {
  if (root) return root;
  const pretty = process.env.LOG_FORMAT === 'pretty';
  root = pino(
    {
      level: 'trace',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'msg',
    },
    destination ?? (pretty ? { write: (line: string) => process.stdout.write(prettyLine(line)) } : pino.destination({ fd: 1, sync: true })),
  );
  return root;
}

/**
 * Nest's logger for a service, writing JSON lines through pino: `service`, `context` (the class), `msg`, and, when
 * known, `invocationId` and the `traceId`/`spanId` of the active OpenTelemetry span. The service is the one whose
 * code is running (LogContexts), so lines stay right in one process where Nest's static logger is shared.
 */
export class PlatformLogger implements LoggerService {
  constructor(private readonly service: string) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  private write(level: Exclude<LogLevelName, 'silent'>, message: unknown, params: unknown[], withStack = false): void {
    const ctx = LogContexts.current();
    const service = ctx?.service ?? this.service;
    if (RANK[level] < (levels.get(service) ?? levels.get(this.service) ?? RANK.info)) return;
    // Nest passes the context (the class name) last; error() may pass a stack before it.
    const rest = [...params];
    const context = rest.length && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const line: Record<string, unknown> = { service };
    if (context) line.context = context;
    if (ctx?.invocationId) line.invocationId = ctx.invocationId;
    const span = trace.getActiveSpan()?.spanContext();
    if (span) {
      line.traceId = span.traceId;
      line.spanId = span.spanId;
    } else if (ctx?.traceId) line.traceId = ctx.traceId;
    if (withStack && typeof rest[0] === 'string' && rest[0].includes('\n')) line.stack = rest[0];
    let msg: string;
    if (message instanceof Error) {
      msg = message.message;
      line.stack = message.stack;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(line, message);
      msg = typeof (message as { msg?: unknown }).msg === 'string' ? (message as { msg: string }).msg : '';
    } else msg = String(message);
    rootLogger()[level](line, msg);
  }
}

/** The logger a service starts with; `level` (tests pass one) stands for LOG_LEVEL. */
export function platformLogger(service: string, level?: string): PlatformLogger {
  levels.set(service, RANK[serviceLogLevel(service, process.env, level)]);
  return new PlatformLogger(service);
}
