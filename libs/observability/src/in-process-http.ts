import type { IncomingMessage, Server, ServerResponse } from 'http';
import { LogContexts } from './logging/log-context';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
/** Listening addresses that a loopback URL reaches. */
const REACHED_BY_LOOPBACK = /^(127\.0\.0\.1|::1|0\.0\.0\.0|::|::ffff:127\.0\.0\.1)$/;
/** Handlers by the port their server listens on, in this process. */
const handlers = new Map<number, RequestHandler>();

/**
 * Services started in one process (the local default: tools/one-process.js) call each other's hot path as a function
 * instead of over loopback HTTP: a service offers the handler of its port, and a caller whose upstream URL is a
 * loopback address with that port takes it. A service alone in its process finds nothing and uses HTTP as before, so
 * the same code runs in both shapes and the services stay separately deployable.
 */
export const InProcessHttp = {
  /** Offers `handler` for the port `server` listens on, from 'listening' until 'close'. */
  offer(server: Server, handler: RequestHandler): void {
    // Called from the caller's code, it still runs as the offering service (its logs name it).
    handler = LogContexts.bind(handler);
    const register = (): void => {
      const address = server.address();
      if (!address || typeof address === 'string') return;
      // Only a server that 127.0.0.1 / ::1 reaches: on one of those or on every address, not on another one.
      if (!REACHED_BY_LOOPBACK.test(address.address)) return;
      const port = address.port;
      handlers.set(port, handler);
      server.once('close', () => {
        if (handlers.get(port) === handler) handlers.delete(port);
      });
    };
    if (server.listening) register();
    else server.once('listening', register);
  },

  /** The handler serving `url` in this process, if one does (loopback host, no path prefix). */
  find(url: URL): RequestHandler | undefined {
    if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname) || (url.pathname !== '/' && url.pathname !== '')) return undefined;
    return handlers.get(Number(url.port || 80));
  },
};
