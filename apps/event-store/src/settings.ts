import { SettingsOf, SettingsSchema, CommonSettingsValues } from '@platform/config';

export const EventStoreSettings = {
  EVENT_STORE_PORT: { kind: 'int', default: 8085, description: 'HTTP port of the event store (health endpoints)' },
  EVENT_STORE_BATCH_SIZE: {
    kind: 'int',
    default: 500,
    min: 1,
    max: 10_000,
    description: 'Most events stored by one INSERT/transaction (1 to 10000)',
  },
  EVENT_STORE_BATCH_WAIT_MS: {
    kind: 'int',
    default: 20,
    min: 0,
    max: 60_000,
    description: 'How long a partial batch waits for more events before it is stored (0 to 60000 ms)',
  },
} as const satisfies SettingsSchema;

export type EventStoreSettingsValues = SettingsOf<typeof EventStoreSettings> & CommonSettingsValues;
