import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { existsSync } from 'fs';
import { readFile, stat } from 'fs/promises';
import type { IncomingMessage, ServerResponse } from 'http';
import * as path from 'path';
import { SETTINGS } from '@platform/config';
import { sendError } from '../access/gateway-access';
import { GatewaySettingsValues } from '../settings';

export const CONSOLE_PATH = '/console';

/**
 * The console's own pages and scripts only: no inline script, no other origin (it is bundled, fonts included), and
 * it cannot be framed. Its API calls go to this origin with the key the user typed. The one exception is the code
 * editor's <style> elements (CodeMirror writes its theme at run time): they carry the nonce of the page they are in,
 * which index.html names in a meta tag, new for each answer.
 */
export const CONSOLE_CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
export const STYLE_NONCE_META = 'hks-style-nonce';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Where `npm run build` puts the console (dist/apps/console), found from this file in dist/ or in the sources. */
export function defaultConsoleDir(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const inDist = path.join(dir, 'apps', 'console', 'index.html');
    if (path.basename(dir) === 'dist' && existsSync(inDist)) return path.dirname(inDist);
    const beside = path.join(dir, 'dist', 'apps', 'console');
    if (existsSync(path.join(beside, 'index.html'))) return beside;
    if (path.dirname(dir) === dir) return beside;
  }
}

/**
 * The web console's static files under /console/, answered before Express like the invocation proxy (so it is no
 * API route: the API keeps its deny-by-default guard). The files are public; every API call the console makes
 * carries the key the user typed. Hashed assets are cached for good; any other /console/... path is the
 * single-page app's route and gets index.html.
 */
@Injectable()
export class ConsoleRoute {
  readonly root: string;

  constructor(@Inject(SETTINGS) settings: GatewaySettingsValues) {
    this.root = path.resolve(settings.GATEWAY_CONSOLE_DIR || defaultConsoleDir());
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return false;
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, { statusCode: 405, error: 'Method Not Allowed', message: 'The console serves its files to GET and HEAD only' }, { allow: 'GET, HEAD' });
      return true;
    }
    if (pathname === CONSOLE_PATH) {
      res.writeHead(308, { location: `${CONSOLE_PATH}/${q < 0 ? '' : url.slice(q)}`, 'content-length': 0 });
      res.end();
      return true;
    }
    this.serve(req, res, decodeURIComponent(pathname.slice(CONSOLE_PATH.length + 1))).catch((err: Error) =>
      sendError(res, { statusCode: 500, error: 'Internal Server Error', message: `The console file could not be read: ${err.message}` }),
    );
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, relative: string): Promise<void> {
    const file = path.resolve(this.root, relative || 'index.html');
    if (file !== this.root && !file.startsWith(this.root + path.sep)) {
      sendError(res, { statusCode: 404, error: 'Not Found', message: 'No such console file' });
      return;
    }
    const found = await stat(file).then(
      (s) => s.isFile(),
      () => false,
    );
    // A missing asset is a 404 (a stale page asking for an old hash must not get HTML as script); anything else is a route of the app.
    if (!found && (relative.startsWith('assets/') || path.extname(relative) !== '')) {
      sendError(res, { statusCode: 404, error: 'Not Found', message: `No console file ${relative}` });
      return;
    }
    const served = found ? file : path.join(this.root, 'index.html');
    let body: Buffer;
    try {
      body = await readFile(served);
    } catch {
      sendError(res, {
        statusCode: 404,
        error: 'Not Found',
        message: `The web console is not built (no ${served}): run npm run build, or set GATEWAY_CONSOLE_DIR`,
      });
      return;
    }
    const hashed = found && relative.startsWith('assets/');
    let csp = CONSOLE_CSP;
    if (path.extname(served) === '.html') {
      const nonce = randomBytes(18).toString('base64');
      body = Buffer.from(body.toString('utf8').replace('</head>', `<meta name="${STYLE_NONCE_META}" content="${nonce}" />\n  </head>`));
      csp += `; style-src 'self' 'nonce-${nonce}'`;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(served)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
