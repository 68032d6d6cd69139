import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'fs';
import { homedir } from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { UsageError } from './errors';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';

export interface CliSettings {
  gatewayUrl: string;
  apiKey?: string;
  /** Where the settings came from, for error messages ("set by HKS_GATEWAY_URL"). */
  configFile: string;
}

/** ~/.config/hks/config.yaml, or $XDG_CONFIG_HOME/hks/config.yaml, or $HKS_CONFIG. */
export function configFilePath(env: Record<string, string | undefined>): string {
  if (env.HKS_CONFIG) return env.HKS_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config');
  return path.join(base, 'hks', 'config.yaml');
}

export interface ConfigFile {
  gateway?: string;
  apiKey?: string;
}

export function readConfigFile(file: string): ConfigFile {
  if (!existsSync(file)) return {};
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: expected keys gateway and apiKey`);
  const { gateway, apiKey, ...rest } = doc as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new UsageError(`${file}: unknown key "${unknown[0]}" (known: gateway, apiKey)`);
  if (gateway !== undefined && typeof gateway !== 'string') throw new UsageError(`${file}: gateway must be a URL`);
  if (apiKey !== undefined && typeof apiKey !== 'string') throw new UsageError(`${file}: apiKey must be a string`);
  return { gateway, apiKey };
}

/** Writes the config file readable by its owner only (it holds an API key), atomically. */
export function writeConfigFile(file: string, config: ConfigFile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const doc = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  writeFileSync(tmp, stringify(doc), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Flag, then environment, then config file, then the local default. */
export function resolveSettings(flags: { gateway?: string; apiKey?: string }, env: Record<string, string | undefined>): CliSettings {
  const configFile = configFilePath(env);
  const file = readConfigFile(configFile);
  const [raw, from] = flags.gateway
    ? [flags.gateway, '--gateway']
    : env.HKS_GATEWAY_URL
      ? [env.HKS_GATEWAY_URL, 'HKS_GATEWAY_URL']
      : file.gateway
        ? [file.gateway, configFile]
        : [DEFAULT_GATEWAY, 'the default'];
  return { gatewayUrl: normalizeGatewayUrl(raw, from), apiKey: flags.apiKey || env.HKS_API_KEY || file.apiKey || undefined, configFile };
}

function normalizeGatewayUrl(raw: string, from: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`gateway URL "${raw}" (from ${from}) is not a URL, e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`gateway URL "${raw}" (from ${from}) must start with http:// or https://`);
  }
  return url.toString().replace(/\/+$/, '');
}
