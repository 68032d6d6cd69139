import { Inject, Injectable } from '@nestjs/common';
import { ErrorBody, InvokerRoutes, isErrorBody, TRIGGER_HEADER, TriggerKind } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';

export interface InvokeOutcome {
  ok: boolean;
  status: number;
  /** Why it failed, for the log; empty when ok. */
  message: string;
  /** Worth trying again later: the invoker was unreachable, busy (429) or unavailable (503). */
  transient: boolean;
}

/** Data-style invocations on behalf of a trigger: POST ${INVOKER_URL}/invoke/:functionId {"data": ...}. */
@Injectable()
export class InvokerClient {
  private readonly base: string;

  constructor(@Inject(SETTINGS) settings: DeployerSettingsValues) {
    this.base = settings.INVOKER_URL.replace(/\/+$/, '');
  }

  async invoke(functionId: string, data: unknown, trigger: TriggerKind, timeoutMs: number): Promise<InvokeOutcome> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${InvokerRoutes.invoke(functionId)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TRIGGER_HEADER]: trigger },
        body: JSON.stringify({ data }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      return {
        ok: false,
        status: 0,
        message: timedOut ? `invoker at ${this.base} did not answer within ${timeoutMs} ms` : `invoker at ${this.base} is unreachable`,
        transient: !timedOut,
      };
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return { ok: true, status: res.status, message: '', transient: false };
    let message = text.slice(0, 500) || res.statusText;
    try {
      const body = JSON.parse(text) as ErrorBody;
      if (isErrorBody(body)) message = body.message;
    } catch {
      // Not JSON: keep the text.
    }
    return { ok: false, status: res.status, message, transient: res.status === 429 || res.status === 503 };
  }
}

/** How long a trigger waits for one invocation: the function's own time limit plus room for a cold start. */
export function invocationBudgetMs(functionTimeoutMs: number): number {
  return functionTimeoutMs + 60_000;
}
