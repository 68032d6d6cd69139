/**
 * The settings each app reads at start-up, taken from its source at test time (apps/<app>/src/
 * settings.ts plus libs/config's CommonSettings), so the manifests are checked against the code as
 * it is today rather than against a list copied into the tests.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { CommonSettings, loadSettings, SettingsSchema, SettingSpec } from '@platform/config';
import { DEPLOY_DIR, REPO_ROOT } from './manifests';

export function settingsFile(app: string): string {
  return path.join(REPO_ROOT, 'apps', app, 'src', 'settings.ts');
}

function isSettingSpec(value: unknown): value is SettingSpec {
  return !!value && typeof value === 'object' && 'kind' in value && 'description' in value;
}

function isSchema(value: unknown): value is SettingsSchema {
  return !!value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0 && Object.values(value).every(isSettingSpec);
}

/** Common settings merged with every schema the app's settings.ts exports. */
export function appSettingsSchema(app: string): SettingsSchema {
  const file = settingsFile(app);
  if (!existsSync(file)) throw new Error(`${path.relative(REPO_ROOT, file)} does not exist: every app declares its settings there`);
  // A path found at test time (every app's settings.ts), so not an import.
  const exported = module.require(file) as Record<string, unknown>;
  const schemas = Object.values(exported).filter(isSchema);
  if (!schemas.length) throw new Error(`${path.relative(REPO_ROOT, file)} exports no SettingsSchema`);
  return Object.assign({}, CommonSettings, ...schemas);
}

/** Settings that must come from the environment: no default in the code. */
export function settingsWithoutDefault(schema: SettingsSchema): string[] {
  return Object.entries(schema)
    .filter(([, spec]) => spec.default === undefined)
    .map(([name]) => name);
}

/** Boots the app's settings the way SettingsModule does; throws InvalidSettingsError on a bad value. */
export function loadAppSettings(app: string, env: Record<string, string>): Record<string, unknown> {
  return loadSettings(appSettingsSchema(app), env) as Record<string, unknown>;
}

/**
 * Settings the README documents as left unset on purpose (optional, no default): the first
 * column of the table under the given heading of deploy/README.md.
 */
export function documentedUnsetSettings(heading: string): Set<string> {
  const readme = readFileSync(path.join(DEPLOY_DIR, 'README.md'), 'utf8');
  const start = readme.search(new RegExp(`^#+ ${heading}`, 'm'));
  if (start < 0) throw new Error(`deploy/README.md has no section "${heading}"`);
  const section = readme.slice(start).split(/\n#+ /)[0];
  const names = [...section.matchAll(/^\|\s*`([A-Z0-9_]+)`/gm)].map((m) => m[1]);
  return new Set(names);
}

/** Kubernetes' $(VAR) expansion of container env values, over the env defined before them. */
export function expandKubernetesEnv(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => env[name] ?? whole);
}
