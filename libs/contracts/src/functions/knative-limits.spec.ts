import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CONFIG_DEFAULTS, FunctionConfigDto } from './function-config.dto';
import { KNATIVE_MAX_TIMEOUT_MS, knativeConfigProblems, LABEL_PATTERN, RESERVED_ENV_NAMES, revisionNameFits } from './knative-limits';

const dtoErrors = (config: unknown) => JSON.stringify(validateSync(plainToInstance(FunctionConfigDto, config)));

describe("Knative's limits on a function's config", () => {
  it('refuses every environment variable Knative sets itself, as env or as a secret', () => {
    for (const name of ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']) {
      expect(knativeConfigProblems({ env: { [name]: 'x' } })).toEqual([expect.stringContaining(`config.env.${name} is reserved`)]);
      expect(knativeConfigProblems({ secrets: [{ env: name }] })).toEqual([expect.stringContaining(`config.secrets[0].env "${name}" is reserved`)]);
    }
    expect(RESERVED_ENV_NAMES).toHaveLength(4);
    expect(knativeConfigProblems({ env: { PORT_NUMBER: '1', K_OTHER: '2', port: '3' } })).toEqual([]);
  });

  it('refuses a timeout over 600 s, in the DTO too, and takes 600 s itself', () => {
    expect(KNATIVE_MAX_TIMEOUT_MS).toBe(600_000);
    expect(knativeConfigProblems({ resources: { timeoutMs: 600_001 } })).toEqual([expect.stringContaining('timeoutMs 600001 is more than 600000')]);
    expect(knativeConfigProblems({ resources: { timeoutMs: 600_000 } })).toEqual([]);
    expect(dtoErrors({ resources: { timeoutMs: 900_000 } })).toContain('resources.timeoutMs 900000 is more than 600000');
    expect(dtoErrors({ resources: { timeoutMs: 600_000 } })).toBe('[]');
  });

  it('refuses minInstances above maxInstances, the default maxInstances included', () => {
    expect(knativeConfigProblems({ scaling: { minInstances: 3, maxInstances: 2 } })).toEqual([
      'config.scaling.minInstances (3) is more than maxInstances (2); set maxInstances to at least 3 or lower minInstances',
    ]);
    const over = CONFIG_DEFAULTS.maxInstances + 1;
    expect(knativeConfigProblems({ scaling: { minInstances: over } })).toEqual([
      expect.stringContaining(`minInstances (${over}) is more than maxInstances (${CONFIG_DEFAULTS.maxInstances}, the default)`),
    ]);
    expect(knativeConfigProblems({ scaling: { minInstances: 2, maxInstances: 2 } })).toEqual([]);
    expect(knativeConfigProblems({ scaling: { maxInstances: 1 } })).toEqual([]);
  });

  it('names every problem at once, and none for an empty config', () => {
    expect(knativeConfigProblems({ env: { PORT: '1' }, resources: { timeoutMs: 700_000 }, scaling: { minInstances: 20 } })).toHaveLength(3);
    expect(knativeConfigProblems({})).toEqual([]);
    expect(knativeConfigProblems(undefined)).toEqual([]);
  });

  it('takes as labels only DNS-1035 names of at most 63 characters (a Knative Service name)', () => {
    for (const ok of ['a', 'my-fn', 'f1', 'a'.repeat(63)]) expect(LABEL_PATTERN.test(ok)).toBe(true);
    for (const bad of ['1fn', 'My-fn', 'fn-', '-fn', 'a'.repeat(64), 'a_b', 'a.b', '']) expect(LABEL_PATTERN.test(bad)).toBe(false);
  });

  it('says whether the revision name {label}-v{n} still fits in 63 characters', () => {
    expect(revisionNameFits('a'.repeat(60), 9)).toBe(true);
    expect(revisionNameFits('a'.repeat(60), 10)).toBe(false);
    expect(revisionNameFits('a'.repeat(63), 1)).toBe(false);
  });
});
