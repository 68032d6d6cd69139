import { InvalidSettingsError, loadSettings, SettingsSchema } from './settings';

const schema = {
  BATCH: { kind: 'int', default: 200, min: 1, max: 10_000, description: 'batch size' },
  FLOOR: { kind: 'int', default: 0, min: 0, description: 'at least zero' },
  CEILING: { kind: 'int', default: 5, max: 10, description: 'at most ten' },
} as const satisfies SettingsSchema;

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadSettings(schema, env);
    return [];
  } catch (err) {
    if (!(err instanceof InvalidSettingsError)) throw err;
    return err.problems;
  }
};

describe('loadSettings: ranges of int settings', () => {
  it('accepts values inside the range, both ends included, and keeps the defaults', () => {
    expect(loadSettings(schema, { BATCH: '1', CEILING: '10' })).toEqual({ BATCH: 1, FLOOR: 0, CEILING: 10 });
    expect(loadSettings(schema, { BATCH: '10000' }).BATCH).toBe(10_000);
  });

  it('names each setting outside its range with the range it must be in', () => {
    expect(problemsOf({ BATCH: '0', FLOOR: '-1', CEILING: '11' })).toEqual([
      'BATCH=0 must be from 1 to 10000',
      'FLOOR=-1 must be at least 0',
      'CEILING=11 must be at most 10',
    ]);
    expect(problemsOf({ BATCH: '10001' })).toEqual(['BATCH=10001 must be from 1 to 10000']);
  });

  it('says a value that is not a whole number is not one, before any range', () => {
    expect(problemsOf({ BATCH: '2.5' })).toEqual(['BATCH=2.5 is not a whole number (batch size)']);
  });
});
