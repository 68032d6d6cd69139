import { substituteVariables } from './substitute';
import { formatDurationLimit, formatDurationMs, parseBytes, parseDurationMs, parseMemoryMb } from './units';

describe('memory sizes', () => {
  it.each([
    ['256Mi', 256],
    ['1Gi', 1024],
    ['512M', 489], // 512 * 10^6 bytes, as Kubernetes reads it, rounded up to whole MiB
    ['1G', 954],
    ['2048Ki', 2],
    [128, 128],
    ['128', 128],
    // MB and GB in a memory size mean MiB and GiB, as a function doc's "memory: 256MB" does
    ['256MB', 256],
    ['512MB', 512],
    ['1GB', 1024],
    ['1.5gb', 1536],
    ['256 mb', 256],
    ['2048KB', 2],
  ])('reads %p as %p MiB', (input, mb) => {
    expect(parseMemoryMb(input)).toBe(mb);
  });

  it.each(['12 apples', '1m', '', 'Mi', '-5Mi', '1.5.2Gi', '0MB', 'MB', '5Mb/s'])('refuses %p', (input) => {
    expect(parseMemoryMb(input)).toBeUndefined();
  });

  it('reads byte sizes', () => {
    expect(parseBytes('6Mi')).toBe(6 * 1024 * 1024);
    expect(parseBytes('10k')).toBe(10_000);
    expect(parseBytes('100')).toBe(100);
    // only memory reads MB as MiB; a byte size keeps the decimal meaning
    expect(parseBytes('6MB')).toBe(6_000_000);
  });
});

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['7d', 604_800_000],
    [30, 30_000],
    ['30', 30_000],
  ])('reads %p as %p ms', (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each(['soon', '30 seconds', 's', '1y', '-1s'])('refuses %p', (input) => {
    expect(parseDurationMs(input)).toBeUndefined();
  });

  it('prints durations for people', () => {
    expect(formatDurationMs(45)).toBe('45 ms');
    expect(formatDurationMs(1234)).toBe('1.23 s');
    expect(formatDurationMs(150_000)).toBe('2m30s');
    expect(formatDurationMs(3_600_000)).toBe('1h');
    expect(formatDurationMs(21_600_000)).toBe('6h');
    expect(formatDurationMs(86_400_000)).toBe('1d');
    expect(formatDurationMs(null)).toBe('-');
  });

  it('prints limits in the largest exact unit', () => {
    expect([0, 500, 1000, 90_000, 3_600_000, 604_800_000, 1500].map(formatDurationLimit)).toEqual(['0s', '500ms', '1s', '90s', '1h', '7d', '1500ms']);
  });
});

describe('${VAR} substitution', () => {
  const env = { HOST: 'db.local', EMPTY: '' };

  it('replaces variables, with defaults for unset or empty ones', () => {
    expect(substituteVariables('postgres://${HOST}:5432', env)).toBe('postgres://db.local:5432');
    expect(substituteVariables('${PORT:-5432}', env)).toBe('5432');
    expect(substituteVariables('${EMPTY:-fallback}', env)).toBe('fallback');
    expect(substituteVariables('${EMPTY}', env)).toBe('');
    expect(substituteVariables('price: $5', env)).toBe('price: $5');
  });

  it('keeps a literal ${...} written with $$', () => {
    expect(substituteVariables('$${HOST}', env)).toBe('${HOST}');
  });

  it('names the missing variable', () => {
    expect(() => substituteVariables('${API_URL}', env)).toThrow('${API_URL} is not set in the environment (export API_URL=..., or write ${API_URL:-default})');
    expect(() => substituteVariables('${not valid}', env)).toThrow('"${not valid}" is not a variable reference');
    expect(() => substituteVariables('${HOST', env)).toThrow('"${" is never closed');
  });
});
