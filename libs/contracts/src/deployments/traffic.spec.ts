import { aliasProblem, callerBucket, pickVersion, resolveQualifier, Routing, splitQualifier, splitsProblem } from './traffic';

const routing = (over: Partial<Routing> = {}): Routing => ({ aliases: {}, splits: null, sticky: false, revision: 1, ...over });

describe('traffic routing', () => {
  it('splits a qualifier off the name at the first colon, as Lambda qualifiers', () => {
    expect(splitQualifier('shop')).toEqual({ name: 'shop' });
    expect(splitQualifier('shop:stable')).toEqual({ name: 'shop', qualifier: 'stable' });
    expect(splitQualifier('shop:3')).toEqual({ name: 'shop', qualifier: '3' });
  });

  it('resolves latest, a number, v{n} and an alias to a running version, and says why not otherwise', () => {
    const r = routing({ aliases: { stable: 1 } });
    const running = (v: number) => v === 1 || v === 2;
    expect(resolveQualifier(r, 2, 'latest', running)).toBe(2);
    expect(resolveQualifier(r, 2, '1', running)).toBe(1);
    expect(resolveQualifier(r, 2, 'v1', running)).toBe(1);
    expect(resolveQualifier(r, 2, 'stable', running)).toBe(1);
    expect(resolveQualifier(r, 2, 'canary', running)).toBe('no alias "canary" (aliases: latest, stable; or name a version number)');
    expect(resolveQualifier(r, 2, '5', running)).toMatch(/^version 5 is not deployed/);
    expect(resolveQualifier(r, 2, 'constructor', running)).toMatch(/^no alias "constructor"/);
  });

  it('sends everything to the deployed version without a split, and follows the percentages with one', () => {
    expect(pickVersion(routing(), 3)).toBe(3);
    const r = routing({
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
    });
    expect(pickVersion(r, 2, undefined, () => 0)).toBe(1);
    expect(pickVersion(r, 2, undefined, () => 0.8999)).toBe(1);
    expect(pickVersion(r, 2, undefined, () => 0.9)).toBe(2);
    expect(pickVersion(r, 2, undefined, () => 0.9999)).toBe(2);
    // 0% never gets a call.
    const z = routing({
      splits: [
        { version: 1, percent: 0 },
        { version: 2, percent: 100 },
      ],
    });
    expect(pickVersion(z, 2, undefined, () => 0)).toBe(2);
  });

  it('keeps a caller on one version when sticky, and spreads callers by the percentages', () => {
    const r = routing({
      sticky: true,
      splits: [
        { version: 1, percent: 25 },
        { version: 2, percent: 75 },
      ],
    });
    const random = () => {
      throw new Error('a sticky pick with a caller must not be random');
    };
    expect(new Set(Array.from({ length: 20 }, () => pickVersion(r, 2, 'alice', random))).size).toBe(1);
    let ones = 0;
    for (let i = 0; i < 10_000; i++) if (pickVersion(r, 2, `caller-${i}`, random) === 1) ones++;
    expect(ones / 10_000).toBeGreaterThan(0.23);
    expect(ones / 10_000).toBeLessThan(0.27);
    expect(callerBucket('alice')).toBe(callerBucket('alice'));
  });

  it('checks splits and alias names', () => {
    expect(
      splitsProblem([
        { version: 1, percent: 50 },
        { version: 2, percent: 50 },
      ]),
    ).toBeUndefined();
    expect(splitsProblem([{ version: 1, percent: 50 }])).toBe("the split's percentages sum to 50; they must sum to 100");
    expect(aliasProblem('stable')).toBeUndefined();
    expect(aliasProblem('latest')).toMatch(/is the version deployed last/);
    expect(aliasProblem('v3')).toMatch(/looks like a version tag/);
    expect(aliasProblem('Stable')).toMatch(/DNS-1035/);
    expect(aliasProblem('a'.repeat(21))).toMatch(/1 to 20 characters/);
  });
});
