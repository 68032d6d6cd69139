import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SourceState } from '@platform/sources';

/** deployer.source_state: a trigger's own small durable values (an S3 poller's watermark), shared by the replicas. */
@Injectable()
export class SourceStates {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  of(functionId: string, triggerKey: string): SourceState {
    return {
      get: async <T>(key: string): Promise<T | undefined> => {
        const rows: { value: T }[] = await this.ds.query(
          'SELECT value FROM "deployer"."source_state" WHERE function_id = $1 AND trigger_key = $2 AND key = $3',
          [functionId, triggerKey, key],
        );
        return rows[0]?.value;
      },
      set: async (key: string, value: unknown): Promise<void> => {
        await this.ds.query(
          `INSERT INTO "deployer"."source_state" (function_id, trigger_key, key, value, updated_at) VALUES ($1, $2, $3, $4::jsonb, now())
           ON CONFLICT (function_id, trigger_key, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
          [functionId, triggerKey, key, JSON.stringify(value ?? null)],
        );
      },
    };
  }
}
