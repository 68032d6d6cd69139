/**
 * Which keys of the platform Secret an app uses, read from its source at test time rather than copied into the
 * specs: the connection URLs of what it connects to, the credentials its own settings.ts declares, and the
 * internal credential and broker URL every app uses.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { CommonSettings } from '@platform/config';
import { REPO_ROOT } from './manifests';
import { appSettingsSchema } from './settings';

/** The source files of an app that run in production (no specs, harnesses or fixtures). */
function productionSources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) return entry === 'testing' ? [] : productionSources(file);
    return /\.ts$/.test(entry) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry) ? [file] : [];
  });
}

/** Every app: it talks over RabbitMQ and presents/checks the internal credential. */
const EVERY_APP = ['AMQP_URL', 'HKS_INTERNAL_TOKEN'];

export function credentialsUsed(app: string, secretKeys: string[]): string[] {
  const source = productionSources(path.join(REPO_ROOT, 'apps', app, 'src'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const used = new Set(EVERY_APP);
  // libs/persistence connects with DATABASE_URL; an app without it has no database.
  if (/\bPersistenceModule\b/.test(source)) used.add('DATABASE_URL');
  if (/\bREDIS_URL\b/.test(source)) used.add('REDIS_URL');
  // Credentials of the app's own settings (not the common ones every schema has).
  const own = Object.keys(appSettingsSchema(app)).filter((k) => !(k in CommonSettings));
  for (const key of secretKeys) if (own.includes(key)) used.add(key);
  return secretKeys.filter((k) => used.has(k));
}
