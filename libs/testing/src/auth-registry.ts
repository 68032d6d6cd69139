import * as http from 'http';
import { AddressInfo } from 'net';
import { hostname } from 'os';
import { randomBytes } from 'crypto';

export interface AuthRegistryOptions {
  /** How it challenges: Bearer (a token from its /token realm, as Docker Hub and GHCR do) or Basic. */
  scheme: 'bearer' | 'basic';
  username: string;
  password: string;
  /** Blob GETs answer 307 to `http://localhost:<port>/cdn/...` (another host, as registries send blobs to S3). */
  redirectBlobs?: boolean;
  /** The Bearer realm names `localhost` instead of this machine's name: a token service on another host, as Docker Hub's auth.docker.io. */
  tokenOnOtherHost?: boolean;
}

export interface AuthRegistry {
  /** `<this machine's hostname>:<port>`: a name that is not loopback, so clients default to HTTPS for it. */
  host: string;
  /** What it saw: each request's method, path and Authorization header (the CDN ones included). */
  requests: Array<{ method: string; path: string; authorization?: string }>;
  stop(): Promise<void>;
}

/**
 * A registry that demands a login, in front of a real one (`upstream`, host:port, no auth): every /v2/ request
 * without the right credentials gets 401 with a WWW-Authenticate challenge; with them it is passed on. The bearer
 * variant hands out tokens at /token for Basic credentials, as docker's token protocol says.
 */
export async function startAuthRegistry(upstream: string, o: AuthRegistryOptions): Promise<AuthRegistry> {
  const token = randomBytes(12).toString('hex');
  const basic = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
  const requests: AuthRegistry['requests'] = [];
  let port = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, authorization: req.headers.authorization });
    const deny = (status: number, challenge?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(challenge ? { 'www-authenticate': challenge } : {}) });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    };
    if (url.pathname === '/token') {
      if (o.scheme !== 'bearer' || req.headers.authorization !== basic) return deny(401, 'Basic realm="token"');
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ token, expires_in: 300 }));
    }
    if (url.pathname.startsWith('/cdn/')) return pass(req, res, upstream, url.pathname.slice('/cdn'.length));
    const repo = /^\/v2\/(.+?)\/(manifests|blobs)\//.exec(url.pathname)?.[1];
    const challenge =
      o.scheme === 'bearer'
        ? `Bearer realm="http://${o.tokenOnOtherHost ? 'localhost' : hostname()}:${port}/token",service="test-registry"${repo ? `,scope="repository:${repo}:pull"` : ''}`
        : 'Basic realm="test-registry"';
    const expected = o.scheme === 'bearer' ? `Bearer ${token}` : basic;
    if (req.headers.authorization !== expected) return deny(401, challenge);
    if (o.redirectBlobs && req.method === 'GET' && /\/blobs\/sha256:/.test(url.pathname)) {
      res.writeHead(307, { location: `http://localhost:${port}/cdn${url.pathname}` });
      return res.end();
    }
    pass(req, res, upstream, url.pathname + url.search);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    host: `${hostname()}:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
}

function pass(req: http.IncomingMessage, res: http.ServerResponse, upstream: string, pathAndQuery: string): void {
  const [host, port] = upstream.split(':');
  const headers = { ...req.headers, host: upstream };
  delete headers.authorization;
  const out = http.request({ host, port: Number(port), method: req.method, path: pathAndQuery, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', (err) => {
    res.writeHead(502);
    res.end(err.message);
  });
  req.pipe(out);
}
