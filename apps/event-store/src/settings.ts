import { SettingsOf, SettingsSchema, CommonSettingsValues } from '@platform/config';

export const EventStoreSettings = {
  EVENT_STORE_PORT: { kind: 'int', default: 8085, description: 'HTTP port of the event store (health endpoints)' },
  EVENT_STORE_BATCH_SIZE: {
    kind: 'int',
    default: 200,
    description: 'Most events stored by one INSERT/transaction (1 to 10000)',
  },
  EVENT_STORE_BATCH_WAIT_MS: {
    kind: 'int',
    default: 20,
    description: 'How long a partial batch waits for more events before it is stored (0 to 60000 ms)',
  },
} as const satisfies SettingsSchema;

export type EventStoreSettingsValues = SettingsOf<typeof EventStoreSettings> & CommonSettingsValues;

/** Ranges the schema cannot express; checked at start-up so a wrong value names itself. */
export function settingsProblems(s: EventStoreSettingsValues): string[] {
  const problems: string[] = [];
  if (s.EVENT_STORE_BATCH_SIZE < 1 || s.EVENT_STORE_BATCH_SIZE > 10_000)
    problems.push(`EVENT_STORE_BATCH_SIZE=${s.EVENT_STORE_BATCH_SIZE} must be from 1 to 10000`);
  if (s.EVENT_STORE_BATCH_WAIT_MS < 0 || s.EVENT_STORE_BATCH_WAIT_MS > 60_000)
    problems.push(`EVENT_STORE_BATCH_WAIT_MS=${s.EVENT_STORE_BATCH_WAIT_MS} must be from 0 to 60000`);
  return problems;
}
