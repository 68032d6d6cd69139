import { Inject, Injectable } from '@nestjs/common';
import { InternalCredential, SETTINGS } from '@platform/config';
import { DEBUG_OWNER_HEADER, DebugSessionView, DomainError, INVOKER_DEBUG_PATH } from '@platform/contracts';
import { GatewaySettingsValues } from '../settings';

/** Starting the debug worker can take a cold start on a loaded machine; more than this is a fault. */
const OPEN_TIMEOUT_MS = 30_000;

/** The invoker's debug-session routes (HTTP with the internal credential): the invoker owns the sessions and their workers. */
@Injectable()
export class InvokerDebugClient {
  readonly invokerUrl: URL;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly credential: InternalCredential,
  ) {
    this.invokerUrl = new URL(settings.INVOKER_URL);
  }

  open(functionId: string, owner: string): Promise<DebugSessionView> {
    return this.call<DebugSessionView>('POST', INVOKER_DEBUG_PATH, owner, { functionId });
  }

  get(sessionId: string, owner: string): Promise<DebugSessionView> {
    return this.call<DebugSessionView>('GET', `${INVOKER_DEBUG_PATH}/${encodeURIComponent(sessionId)}`, owner);
  }

  end(sessionId: string, owner: string): Promise<{ sessionId: string; ended: true }> {
    return this.call('DELETE', `${INVOKER_DEBUG_PATH}/${encodeURIComponent(sessionId)}`, owner);
  }

  /** Headers of every call to the invoker: its credential and the key the session belongs to. */
  headers(owner: string): Record<string, string> {
    return { ...this.credential.header(), [DEBUG_OWNER_HEADER]: owner };
  }

  private async call<T>(method: string, route: string, owner: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(this.invokerUrl.pathname.replace(/\/$/, '') + route, this.invokerUrl), {
        method,
        headers: { ...this.headers(owner), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(OPEN_TIMEOUT_MS),
      });
    } catch (err) {
      throw new DomainError(503, `the invoker (INVOKER_URL ${this.invokerUrl.origin}) did not answer: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed as T;
    const message = (parsed as { message?: unknown } | undefined)?.message;
    // The invoker's 401 would be about the gateway's own credential: a platform fault, not the caller's.
    const status = res.status === 401 ? 502 : res.status;
    throw new DomainError(status, typeof message === 'string' ? message : `the invoker answered ${res.status}: ${text.slice(0, 200)}`);
  }
}
