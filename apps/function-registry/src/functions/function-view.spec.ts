import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { StateError } from '@platform/contracts';
import { forgetInterpreters, interpreters, RUNTIMES } from '@platform/runtimes';
import { FunctionVersionEntity } from './function-version.entity';
import { versionRuntimeSpec } from './function-view';

const python = RUNTIMES.find((r) => r.name === 'python')!;
const nine = interpreters(python).find((i) => i.version.startsWith('3.9.'));

const version = (runtimeVersion: string | null) =>
  ({
    functionId: 'f-1',
    version: 3,
    template: 'python',
    runtime: 'python3.9',
    entrypoint: 'main.handle',
    config: {},
    buildStatus: 'SUCCEEDED',
    bundleDigest: `sha256:${'b'.repeat(64)}`,
    image: null,
    runtimeVersion,
  }) as unknown as FunctionVersionEntity;

(nine ? describe : describe.skip)('the runtime a version runs on: the one its build recorded', () => {
  const fn = { id: 'f-1', label: 'py' };
  const savedRoot = process.env.PYENV_ROOT;
  let empty: string;

  beforeAll(() => {
    empty = mkdtempSync(path.join(tmpdir(), 'hks-no-pyenv-'));
  });
  afterEach(() => {
    if (savedRoot === undefined) delete process.env.PYENV_ROOT;
    else process.env.PYENV_ROOT = savedRoot;
    forgetInterpreters();
  });
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('runs a version on the exact interpreter its build recorded', () => {
    expect(versionRuntimeSpec(fn, version(nine!.version)).runtimeVersion).toBe(nine!.version);
  });

  it('fails with a 409 naming the recorded version once its interpreter is gone, instead of running on another one', () => {
    // pyenv's versions are gone: python3.9 would resolve to the nearest newer Python now.
    process.env.PYENV_ROOT = empty;
    forgetInterpreters();
    expect(interpreters(python).some((i) => i.version === nine!.version)).toBe(false);
    const run = () => versionRuntimeSpec(fn, version(nine!.version));
    expect(run).toThrow(StateError);
    expect(run).toThrow(`version 3 of function py was built for Python ${nine!.version} ("python3.9"), which this platform no longer has`);
  });
});
