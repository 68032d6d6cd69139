import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';

/** The Go shim's own tests (hks_test.go: handler shapes, the contract, errors, limits, the SDK), with go test. */
describe('the Go shim', () => {
  it('passes go test', () => {
    const r = spawnSync('/usr/bin/go', ['test', '-count=1', './...'], {
      cwd: path.join(__dirname, 'shim'),
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: os.tmpdir(),
        GOCACHE: path.join(os.tmpdir(), 'hks-go-cache', 'test'),
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
      },
      timeout: 240_000,
    });
    expect({ status: r.status, output: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, output: '' });
    expect(r.stdout).toMatch(/^ok\s+hexabase\.io\/hks\s/m);
  }, 300_000);
});
