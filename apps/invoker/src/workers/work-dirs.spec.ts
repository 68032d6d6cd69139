import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { InvokerSettingsValues } from '../settings';
import { WorkDirs } from './work-dirs';

const asRoot = process.getuid?.() === 0;
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

(asRoot ? describe : describe.skip)('work dirs: what the sandbox reaches, without touching host folders', () => {
  let host: string;

  beforeEach(() => {
    // A host folder the sandbox's user cannot pass, as /root is.
    host = mkdtempSync(path.join(tmpdir(), 'hks-host-'));
    chmodSync(host, 0o700);
  });
  afterEach(() => rmSync(host, { recursive: true, force: true }));

  const dirs = (dataDir: string) => new WorkDirs({ HKS_DATA_DIR: dataDir } as InvokerSettingsValues);

  it('opens only folders of its own data dir, and refuses a data dir below a closed host folder, naming it', () => {
    const own = dirs(path.join(host, 'data'));
    mkdirSync(own.root, { recursive: true, mode: 0o700 });
    expect(() => own.searchable(own.root)).toThrow(`${host} is not searchable (mode 700), and the invoker never changes host folders`);
    expect(mode(host)).toBe('700');
  });

  it('binds an interpreter it cannot reach from a copy in the data dir (hard links), leaving the host folder closed', () => {
    const prefix = path.join(host, 'versions', '3.9.18');
    mkdirSync(path.join(prefix, 'bin'), { recursive: true });
    writeFileSync(path.join(prefix, 'bin', 'python3.9'), '#!/bin/sh\n', { mode: 0o755 });
    const data = mkdtempSync(path.join(tmpdir(), 'hks-data-'));
    try {
      const d = dirs(data);
      const copy = d.interpreterPrefix(prefix, path.join(prefix, 'bin', 'python3.9'))!;
      expect(copy.startsWith(d.interpreters + path.sep)).toBe(true);
      expect(readFileSync(path.join(copy, 'bin', 'python3.9'), 'utf8')).toBe('#!/bin/sh\n');
      expect(statSync(path.join(copy, 'bin', 'python3.9')).ino).toBe(statSync(path.join(prefix, 'bin', 'python3.9')).ino);
      expect(d.reachable(copy)).toBe(true);
      // Made once: the next worker binds the same copy.
      expect(d.interpreterPrefix(prefix, path.join(prefix, 'bin', 'python3.9'))).toBe(copy);
      expect(mode(host)).toBe('700');
      // A reachable prefix is bound as it is.
      expect(d.interpreterPrefix('/usr', '/usr/bin/env')).toBeUndefined();
      expect(existsSync(d.interpreters)).toBe(true);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
