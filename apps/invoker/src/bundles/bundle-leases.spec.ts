import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { hostname, tmpdir } from 'os';
import * as path from 'path';
import { BundleLeases } from './bundle-leases';

describe('bundle leases (invokers sharing a data dir)', () => {
  const hex = 'ab'.repeat(32);
  let dir: string;
  const evictions: string[] = [];
  const evict = (who: string) => () => {
    evictions.push(who);
    return Promise.resolve();
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-leases-'));
    evictions.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes a bundle only when the last invoker using it gives it up', async () => {
    const a = new BundleLeases(dir, `${process.pid}-aaaaaa`);
    const b = new BundleLeases(dir, `${process.pid}-bbbbbb`);
    await a.take(hex);
    await b.take(hex);
    expect(await a.giveUp(hex, evict('a'))).toBe(false);
    expect(await b.giveUp(hex, evict('b'))).toBe(true);
    expect(evictions).toEqual(['b']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('ignores the lease of an invoker of this host that is gone, but never guesses about other hosts', async () => {
    const dead = spawnSync('true').pid;
    const users = path.join(dir, `${hex}.users`);
    mkdirSync(users);
    writeFileSync(path.join(users, `${hostname().replace(/[^A-Za-z0-9.]/g, '_')}-${dead}-cccccc`), '');
    const a = new BundleLeases(dir, `${process.pid}-aaaaaa`);
    await a.take(hex);
    expect(await a.giveUp(hex, evict('a'))).toBe(true);

    mkdirSync(users);
    writeFileSync(path.join(users, `another-host-${dead}-dddddd`), '');
    await a.take(hex);
    expect(await a.giveUp(hex, evict('a again'))).toBe(false);
    expect(evictions).toEqual(['a']);
  });

  it('takes over a lock left by an invoker that died holding it', async () => {
    const dead = spawnSync('true').pid;
    mkdirSync(path.join(dir, `${hex}.lock`));
    writeFileSync(path.join(dir, `${hex}.lock`, 'owner'), `${hostname().replace(/[^A-Za-z0-9.]/g, '_')}-${dead}-eeeeee`);
    const a = new BundleLeases(dir, `${process.pid}-aaaaaa`);
    await a.take(hex);
    expect(existsSync(path.join(dir, `${hex}.users`, a.owner))).toBe(true);
    expect(existsSync(path.join(dir, `${hex}.lock`))).toBe(false);
  });
});
