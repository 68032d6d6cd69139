import { runtimeSpec } from '../../test-fixtures/runtime-spec';
import type { Deployment } from './deployment.entity';
import { canarySplits, carryOver, judgeCanary, startCanary, versionsNeeded } from './routing';

const T0 = new Date('2026-12-03T12:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe('deployment routing', () => {
  it('keeps the aliases of the deployment it replaces, with the versions they name, and ends the split', () => {
    const v1 = runtimeSpec({ version: 1 });
    const v2 = { ...v1, version: 2 };
    const v3 = { ...v1, version: 3 };
    const previous = {
      spec: v2,
      env: { A: '2' },
      versions: [{ spec: v1, env: { A: '1' } }],
      routing: {
        aliases: { stable: 1, beta: 2 },
        splits: [
          { version: 1, percent: 50 },
          { version: 2, percent: 50 },
        ],
        sticky: true,
        revision: 4,
      },
    } as unknown as Deployment;
    expect(carryOver(previous, v3)).toEqual({
      versions: [
        { spec: v1, env: { A: '1' } },
        { spec: v2, env: { A: '2' } },
      ],
      routing: { aliases: { stable: 1, beta: 2 }, splits: null, sticky: false, revision: 5 },
    });
    // Deploying an aliased version: it is the deployment's own, not one more.
    expect(carryOver(previous, v1).versions).toEqual([{ spec: v2, env: { A: '2' } }]);
    expect(carryOver(null, v3)).toEqual({ versions: [], routing: { aliases: {}, splits: null, sticky: false, revision: 0 } });
  });

  it('runs the versions aliases and non-zero splits name, besides its own', () => {
    expect(
      versionsNeeded(
        {
          aliases: { stable: 1 },
          splits: [
            { version: 3, percent: 0 },
            { version: 2, percent: 100 },
          ],
          sticky: false,
          revision: 1,
        },
        2,
      ),
    ).toEqual([1]);
  });

  it('moves a canary step by step, waits for enough invocations, promotes after the last step and rolls back above the error rate', () => {
    const c = startCanary({ version: 2, steps: [10, 50, 100], intervalSeconds: 10, maxErrorRate: 0.2, minInvocations: 5 }, 1, T0);
    expect(canarySplits(c)).toEqual([
      { version: 1, percent: 90 },
      { version: 2, percent: 10 },
    ]);
    const ok = { invocations: 10, failures: 1, errorRate: 0.1 };
    expect(judgeCanary(c, ok, at(5))).toEqual({ action: 'wait' });
    expect(judgeCanary(c, ok, at(10))).toEqual({ action: 'advance' });
    expect(judgeCanary(c, { invocations: 2, failures: 0, errorRate: 0 }, at(60))).toEqual({ action: 'wait' });
    expect(judgeCanary({ ...c, step: 1 }, ok, at(10))).toEqual({ action: 'promote' });
    // Too many failures end it at once, before the interval is over.
    const bad = judgeCanary(c, { invocations: 5, failures: 2, errorRate: 0.4 }, at(1));
    expect(bad).toEqual({
      action: 'rollback',
      reason: 'version 2 failed 2 of 5 invocations (error rate 0.400 > 0.2) at 10%; all traffic went back to version 1',
    });
    expect(canarySplits({ ...c, step: 2 })).toEqual([{ version: 2, percent: 100 }]);
  });
});
