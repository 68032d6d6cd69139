import type { INestApplication } from '@nestjs/common';

export interface HttpRoute {
  method: string;
  /** Express path pattern, e.g. /deployments/:functionId */
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}

/** Every route the app's Express router knows, read from the running app (not listed by hand). */
export function httpRoutes(app: INestApplication): HttpRoute[] {
  const express = app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
  const stack = (express.router ?? express._router)?.stack ?? [];
  const routes: HttpRoute[] = [];
  for (const layer of stack) {
    if (!layer.route) continue;
    for (const p of [layer.route.path].flat()) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') routes.push({ method: method.toUpperCase(), path: p });
    }
  }
  return routes;
}

/** A concrete path for a route pattern: each :param becomes `value`. */
export function samplePath(pattern: string, value = '00000000-0000-4000-8000-000000000000'): string {
  return pattern.replace(/:[A-Za-z0-9_]+/g, value).replace(/\{[^}]*\}|\*\w*/g, '');
}
