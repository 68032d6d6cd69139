import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { rememberAdminKey } from '../tools/platform';

/** What scripts/start does with the admin key of a first start: put it where `hks` finds it, like `faas-cli login`. */
describe('scripts/start saving the new admin key for hks', () => {
  let dir: string;
  let said: string[];
  const say = (line: string) => said.push(line);
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-start-login-'));
    said = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the config file, readable by its owner only, when there is none', () => {
    const file = path.join(dir, 'hks', 'config.yaml');
    rememberAdminKey('hks_new', 'http://127.0.0.1:8080', say, { XDG_CONFIG_HOME: dir });
    expect(readFileSync(file, 'utf8')).toBe('gateway: http://127.0.0.1:8080\napiKey: hks_new\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(said).toEqual([`saved it in ${file}, so hks uses it`]);
  });

  it('adds the key to a config file without one, keeping its gateway', () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'gateway: http://10.1.2.3:8080\n');
    rememberAdminKey('hks_new', 'http://127.0.0.1:8080', say, { HKS_CONFIG: file });
    expect(readFileSync(file, 'utf8')).toBe('gateway: http://10.1.2.3:8080\napiKey: hks_new\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('leaves a config file holding another key as it is, and says how to use the new one', () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'apiKey: hks_other\n');
    rememberAdminKey('hks_new', 'http://127.0.0.1:8080', say, { HKS_CONFIG: file });
    expect(readFileSync(file, 'utf8')).toBe('apiKey: hks_other\n');
    expect(said).toEqual([`${file} holds another API key; to use this one: hks login --api-key <the key above> --gateway http://127.0.0.1:8080`]);
  });
});
