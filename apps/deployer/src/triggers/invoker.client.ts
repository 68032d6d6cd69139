import { Inject, Injectable } from '@nestjs/common';
import { ErrorBody, InvokerRoutes, isErrorBody, TRIGGER_HEADER, TriggerKind } from '@platform/contracts';
import { InternalCredential, SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';

export interface InvokeOutcome {
  ok: boolean;
  status: number;
  /** Why it failed, for the log; empty when ok. */
  message: string;
  /** Worth trying again later: the invoker was unreachable, busy (429) or unavailable (503). */
  transient: boolean;
}

/** The invoker gave no answer: nothing listens at INVOKER_URL, or it did not answer in time. */
export class InvokerUnavailableError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

export interface InvokerRequest {
  /** Sent as JSON when given. */
  body?: unknown;
  /** Sent as it is (an asynchronous invocation's stored body), with the caller's content-type header. */
  raw?: Buffer;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Aborts the request early (an attempt whose lease was lost); reported like a timeout. */
  signal?: AbortSignal;
}

/**
 * The deployer's HTTP client for the invoker (${INVOKER_URL}): data-style invocations on behalf of a trigger
 * (POST /invoke/:functionId {"data": ...}), and the requests the local driver makes.
 */
@Injectable()
export class InvokerClient {
  /** INVOKER_URL without a trailing slash. */
  readonly base: string;

  constructor(
    @Inject(SETTINGS) settings: DeployerSettingsValues,
    private readonly credential: InternalCredential,
  ) {
    this.base = settings.INVOKER_URL.replace(/\/+$/, '');
  }

  async invoke(functionId: string, data: unknown, trigger: TriggerKind, timeoutMs: number): Promise<InvokeOutcome> {
    let res: Response;
    try {
      res = await this.request('POST', InvokerRoutes.invoke(functionId), { body: { data }, headers: { [TRIGGER_HEADER]: trigger }, timeoutMs });
    } catch (err) {
      const timedOut = (err as InvokerUnavailableError).timedOut;
      return { ok: false, status: 0, message: (err as Error).message, transient: !timedOut };
    }
    if (res.ok) {
      await res.text().catch(() => '');
      return { ok: true, status: res.status, message: '', transient: false };
    }
    const message = await this.errorMessage(res, res.statusText);
    return { ok: false, status: res.status, message, transient: res.status === 429 || res.status === 503 };
  }

  /**
   * One request to the invoker at `path`. Resolves with whatever it answered; throws `InvokerUnavailableError`
   * ("invoker at <url> is unreachable" / "did not answer within <n> ms") when there is no answer.
   */
  async request(method: string, path: string, { body, raw, headers = {}, timeoutMs, signal }: InvokerRequest): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers, ...this.credential.header() },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw new InvokerUnavailableError(`the request to the invoker at ${this.base} was abandoned`, true);
      if ((err as Error).name === 'TimeoutError') {
        throw new InvokerUnavailableError(`invoker at ${this.base} did not answer within ${timeoutMs} ms`, true);
      }
      throw new InvokerUnavailableError(`invoker at ${this.base} is unreachable`, false);
    }
  }

  /** Why the invoker refused: the `ErrorBody` message, else the body's text (up to 500 characters), else `fallback`. */
  async errorMessage(res: Response, fallback = `invoker answered ${res.status} ${res.statusText}`): Promise<string> {
    const text = await res.text().catch(() => '');
    try {
      const body = JSON.parse(text) as ErrorBody;
      if (isErrorBody(body)) return body.message;
    } catch {
      // Not JSON: use the text itself.
    }
    return text.trim() ? text.trim().slice(0, 500) : fallback;
  }
}

/** How long a trigger waits for one invocation: the function's own time limit plus room for a cold start. */
export function invocationBudgetMs(functionTimeoutMs: number): number {
  return functionTimeoutMs + 60_000;
}
