import {
  aliasProblem,
  callerBucket,
  parseVersion,
  pickVersion,
  QUALIFIER_PATTERN_SOURCE,
  qualifierProblem,
  resolveQualifier,
  Routing,
  splitQualifier,
  splitsProblem,
} from './traffic';

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

  it('refuses a malformed qualifier by one rule (what an alias may be, or a version up to 2147483647), quoting it in ASCII', () => {
    const running = () => true;
    for (const ok of ['latest', 'stable', 'a', 'blue-2', '1', 'v7', '2147483647']) expect(qualifierProblem(ok)).toBeUndefined();
    expect(qualifierProblem('\u00fc')).toBe(
      'qualifier "\\u00fc" is not valid: a qualifier is an alias (1 to 20 characters of a-z, 0-9 and "-", starting with a letter: ' +
        'a DNS-1035 label, as PUT .../aliases/{alias} takes) or a version (3 or v3)',
    );
    for (const bad of ['\u4e2d', 'Stable', 'a b', 'x'.repeat(21), '-a', 'a.b', ''])
      expect(qualifierProblem(bad)).toMatch(/is not valid: a qualifier is an alias/);
    for (const big of ['2147483648', '99999999999999999999', '0', 'v0']) {
      expect(qualifierProblem(big)).toBe(`qualifier "${big}" names a version: it must be a whole number from 1 to 2147483647`);
    }
    // The API document's pattern takes what the rule takes, and refuses what it refuses by shape.
    const pattern = new RegExp(QUALIFIER_PATTERN_SOURCE);
    for (const q of ['latest', 'stable', 'blue-2', '1', 'v7', '\u00fc', 'Stable', 'a b', '-a'])
      expect([q, pattern.test(q)]).toEqual([q, qualifierProblem(q) === undefined]);
    expect(() => resolveQualifier(routing(), 2, '\u00fc', running)).toThrow(expect.objectContaining({ statusCode: 400 }));
    expect(() => resolveQualifier(routing(), 2, '2147483648', running)).toThrow(expect.objectContaining({ statusCode: 400 }));
    expect(resolveQualifier(routing(), 2, '2147483647', (v) => v === 2)).toBe(
      'version 2147483647 is not deployed (an alias or a traffic split names the versions that run; or deploy it)',
    );
  });

  it('parses a version from a path segment or a body, and says what is wrong with anything else', () => {
    expect(parseVersion('3')).toBe(3);
    expect(parseVersion(2147483647)).toBe(2147483647);
    expect(parseVersion('2147483648', 'the version in the path')).toBe('the version in the path must be a whole number from 1 to 2147483647, not "2147483648"');
    for (const bad of ['0', '-1', '1.5', '1e3', 'first', '', ' 1'])
      expect(parseVersion(bad)).toMatch(/^the version must be a whole number from 1 to 2147483647, not "/);
    for (const bad of [0, 1.5, 2 ** 31, null, true])
      expect(parseVersion(bad)).toBe(`the version must be a whole number from 1 to 2147483647, not ${JSON.stringify(bad)}`);
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
