import type { DeploymentTable } from '../deployments/deployment-table';
import type { InvokerSettingsValues } from '../settings';
import type { WorkerLauncher } from '../workers/worker-launcher';
import type { WorkDirs } from '../workers/work-dirs';
import { DebugSessions } from './debug-sessions';

/** Debug workers that start when the test says so (the real ones need the sandbox). */
const starting: Array<() => void> = [];
const closed: string[] = [];
jest.mock('../pools/function-pool', () => ({
  FunctionPool: class {
    readonly drained = Promise.resolve();
    constructor(readonly spec: { debugDir: string }) {}
    start(): Promise<void> {
      return new Promise<void>((resolve) => starting.push(resolve));
    }
    close(): void {
      closed.push(this.spec.debugDir);
    }
    status() {
      return { busy: 1 };
    }
  },
}));
jest.mock('./inspector-target', () => ({
  readInspectorTarget: (dir: string) => ({ path: '/0f8fad5b-d9cb-469f-a165-70867728950e', socket: `${dir}/inspector.sock` }),
}));

const FUNCTION_ID = '7c9e6679-7425-40de-944b-e07fc1f97ef7';

function sessions(settings: Partial<InvokerSettingsValues> = {}) {
  const source = { spec: { family: 'node', config: { resources: { timeoutMs: 1_000, memoryMb: 128 }, scaling: { idleTimeoutMs: 1_000 } } } };
  const deployed = { order: { spec: { functionId: FUNCTION_ID, label: 'fn', version: 1 } }, pool: source };
  const table = { find: () => deployed, resolve: () => Promise.resolve(deployed) } as unknown as DeploymentTable;
  const locked: string[] = [];
  const dirs = {
    debugDir: (id: string) => `/tmp/hks-debug-test/${id}`,
    lockDebugDir: (dir: string) => locked.push(dir),
    removeDebugDir: () => undefined,
  } as unknown as WorkDirs;
  const all = { INVOKER_DEBUG_IDLE_MS: 600_000, INVOKER_DEBUG_MAX_MS: 3_600_000, ...settings } as InvokerSettingsValues;
  return { debug: new DebugSessions(table, {} as WorkerLauncher, dirs, all), locked };
}

/** Until the mocked workers of `n` opens are starting. */
async function startingCount(n: number): Promise<void> {
  for (let i = 0; i < 1_000 && starting.length < n; i++) await new Promise((r) => setImmediate(r));
  expect(starting.length).toBe(n);
}

describe('DebugSessions', () => {
  let debug: DebugSessions | undefined;
  beforeEach(() => {
    starting.length = 0;
    closed.length = 0;
  });
  afterEach(() => debug?.onApplicationShutdown());

  it('keeps to 4 sessions when opens come at once (those still starting count)', async () => {
    const made = sessions();
    debug = made.debug;
    const opens = Array.from({ length: 6 }, () =>
      made.debug.open(FUNCTION_ID, 'key-1').then(
        (v) => ({ ok: v.sessionId }),
        (e: { statusCode?: number; message: string }) => ({ status: e.statusCode, message: e.message }),
      ),
    );
    await startingCount(4);
    for (const go of starting) go();
    const results = await Promise.all(opens);
    expect(results.filter((r) => 'ok' in r)).toHaveLength(4);
    const refused = results.filter((r) => !('ok' in r));
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r).toMatchObject({ status: 429, message: expect.stringContaining('4 debug sessions, its maximum') });
    // Each started worker's folder was locked before its inspector was read.
    expect(made.locked).toHaveLength(4);
  });

  it('serves an invocation only for the key that opened the session (404 for another, or none)', async () => {
    const made = sessions();
    debug = made.debug;
    const opening = made.debug.open(FUNCTION_ID, 'key-1');
    await startingCount(1);
    starting[0]();
    const view = await opening;
    expect(made.debug.forInvocation(view.sessionId, FUNCTION_ID, 'key-1').id).toBe(view.sessionId);
    expect(() => made.debug.forInvocation(view.sessionId, FUNCTION_ID, 'key-2')).toThrow(`no debug session ${view.sessionId} is open`);
    expect(() => made.debug.forInvocation(view.sessionId, FUNCTION_ID, undefined)).toThrow(`no debug session ${view.sessionId} is open`);
    expect(() => made.debug.forInvocation(view.sessionId, '00000000-0000-4000-8000-000000000000', 'key-1')).toThrow('no debug session');
  });

  it('ends a session past INVOKER_DEBUG_MAX_MS even while an invocation is busy on it', async () => {
    const made = sessions({ INVOKER_DEBUG_MAX_MS: 60_000 });
    debug = made.debug;
    const opening = made.debug.open(FUNCTION_ID, 'key-1');
    await startingCount(1);
    starting[0]();
    const view = await opening;
    const s = made.debug.get(view.sessionId)!;
    s.connections = 1;
    const sweep = () => (made.debug as unknown as { sweep(): void }).sweep();
    sweep();
    expect(made.debug.get(view.sessionId)).toBe(s);
    // As if opened 61 s ago: a debugger connected and the worker busy (mocked status) keep it no longer.
    s.openedAt -= 61_000;
    sweep();
    expect(made.debug.get(view.sessionId)).toBeUndefined();
    expect(closed).toEqual([`/tmp/hks-debug-test/${view.sessionId}`]);
  });
});
