import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const INTERNAL_TOKEN_FILE = 'internal-token';
const TOKEN = /^[0-9a-f]{64}$/;

/**
 * The internal credential: HKS_INTERNAL_TOKEN when set, else the one in `${dataDir}/internal-token`, created at the
 * first start (32 random bytes, hex, mode 0600). Services sharing a data directory agree without a race: the file is
 * written whole under a private name and then hard-linked into place, which fails when another service got there
 * first; so the name never shows a partly written token, and whoever links first wins.
 */
export function resolveInternalToken(o: { HKS_INTERNAL_TOKEN?: string; HKS_DATA_DIR: string }): string {
  const configured = o.HKS_INTERNAL_TOKEN?.trim();
  if (configured) return configured;
  const dir = path.resolve(o.HKS_DATA_DIR);
  const file = path.join(dir, INTERNAL_TOKEN_FILE);
  const existing = readToken(file);
  if (existing) return existing;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${INTERNAL_TOKEN_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(temp, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.unlinkSync(temp);
  }
  const token = readToken(file);
  if (!token) throw new Error(`${file} does not hold an internal credential (64 hex digits); remove it or set HKS_INTERNAL_TOKEN`);
  return token;
}

function readToken(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!TOKEN.test(text)) throw new Error(`${file} does not hold an internal credential (64 hex digits); remove it or set HKS_INTERNAL_TOKEN`);
  return text;
}
