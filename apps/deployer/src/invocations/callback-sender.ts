import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { InvocationCallbackBody } from '@platform/contracts';
import { DeployerSettingsValues } from '../settings';
import { jsonValue } from './attempt-outcome';
import { CallbackKeys } from './callback-keys';
import { InvocationEntity } from './invocation.entity';
import { InvocationStore } from './invocation.store';

/** A failed callback is tried again this many times (after 1, 2, 4, 8, 16 x DEPLOYER_CALLBACK_RETRY_MS), then given up. */
export const CALLBACK_RETRIES = 5;

export function callbackBody(row: InvocationEntity): InvocationCallbackBody {
  const last = row.attemptLog.at(-1);
  return {
    invocationId: row.id,
    functionId: row.functionId,
    status: row.status,
    attempts: row.attempts,
    durationMs: last?.durationMs ?? null,
    result: row.result,
    error: row.error,
    value: jsonValue(row.result),
  };
}

/** POSTs the result of a finished invocation to its X-Callback-Url, signed per Standard Webhooks ("v1a", ed25519). */
@Injectable()
export class CallbackSender {
  private readonly logger = new Logger(CallbackSender.name);

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly keys: CallbackKeys,
    private readonly store: InvocationStore,
  ) {}

  /** One delivery attempt, its outcome recorded in the row. */
  async deliver(row: InvocationEntity, signal: AbortSignal): Promise<void> {
    const error = await this.post(row, signal);
    // Stopping: left pending; its hold runs out and a deployer delivers it then.
    if (signal.aborted) return;
    if (error === null) {
      await this.store.callbackDelivered(row.id);
      return;
    }
    const failures = row.callbackAttempts + 1;
    const retryInMs = failures <= CALLBACK_RETRIES ? this.settings.DEPLOYER_CALLBACK_RETRY_MS * 2 ** (failures - 1) : null;
    if (retryInMs === null) this.logger.warn(`invocation ${row.id}: callback to ${row.callbackUrl} failed ${failures} times, given up: ${error}`);
    await this.store.callbackFailed(row.id, error, retryInMs);
  }

  /** null when the receiver answered 2xx; else why not. */
  private async post(row: InvocationEntity, signal: AbortSignal): Promise<string | null> {
    const body = JSON.stringify(callbackBody(row));
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(row.callbackUrl!, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'webhook-id': row.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': await this.keys.signature(row.id, timestamp, body),
          'x-invocation-id': row.id,
          'x-hks-status': row.status,
        },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.settings.DEPLOYER_CALLBACK_TIMEOUT_MS)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `the receiver answered ${res.status} ${res.statusText}`.trim();
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return `the receiver did not answer within ${this.settings.DEPLOYER_CALLBACK_TIMEOUT_MS} ms`;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return `could not reach ${new URL(row.callbackUrl!).origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    }
  }
}
