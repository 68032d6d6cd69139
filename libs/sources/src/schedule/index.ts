import type { SourceDescriptor } from '../types';

/** Why a cron expression will not run (five fields, or six with seconds), or undefined. */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6)
    return `${JSON.stringify(cron)} is not a cron expression with five fields (minute hour day month weekday), e.g. "0 * * * *"`;
  try {
    // Loaded when a schedule is checked: the other kinds do not need it.
    const { CronExpressionParser } = require('cron-parser') as typeof import('cron-parser');
    CronExpressionParser.parse(cron);
    return undefined;
  } catch (err) {
    return `${JSON.stringify(cron)} is not a valid cron expression: ${(err as Error).message}`;
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** cron: the deployer's scheduler (BullMQ job schedulers in Redis), one run per tick across replicas and crashes. */
export const schedule: SourceDescriptor = {
  kind: 'schedule',
  aliases: ['cron'],
  summary: 'A cron schedule with a time zone: exactly one invocation per tick, across deployer replicas and crashes.',
  docs:
    'Five fields (minute hour day-of-month month day-of-week; six with seconds first), in `timezone` (UTC when absent). ' +
    'Each tick is accepted as one asynchronous invocation keyed by the tick, so a deployer that dies during a run, or ' +
    'two deployers, never run a tick twice; a failed run is retried by config.retry. A tick missed while no deployer ' +
    'ran is not made up.',
  eventShape:
    'A CloudEvent: `type` "hks.schedule.tick", `source` "hks://schedule/{label}", `time` the tick, `scheduledat` the ' +
    "same, `data` the trigger's `data` (an empty object when absent).",
  example: { type: 'schedule', cron: '0 2 * * *', timezone: 'Asia/Tokyo' },
  yamlExample: '- type: schedule\n  cron: "0 2 * * *"\n  timezone: Asia/Tokyo',
  fields: [
    {
      key: 'cron',
      yaml: 'cron',
      yamlAliases: ['schedule', 'expression'],
      type: 'string',
      required: true,
      max: 255,
      description: 'A cron expression: five fields, e.g. "0 2 * * *".',
      example: '0 2 * * *',
    },
    {
      key: 'timezone',
      yaml: 'timezone',
      type: 'string',
      max: 64,
      description: 'An IANA time zone such as "Asia/Tokyo"; UTC when absent.',
      example: 'Asia/Tokyo',
    },
    { key: 'data', yaml: 'data', yamlAliases: ['input'], type: 'json', description: "The data each tick's event carries." },
  ],
  check(t) {
    const problem = cronProblem(t.cron as string);
    if (problem) return `schedule trigger cron: ${problem}`;
    if (t.timezone !== undefined && !isTimeZone(t.timezone as string))
      return `schedule trigger timezone "${t.timezone}" is not a known time zone (e.g. UTC, Asia/Tokyo)`;
    return undefined;
  },
  runtime: 'scheduler',
  identity: (t) => [t.cron, t.timezone ?? 'UTC'],
};
