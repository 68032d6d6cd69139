import { fields, percent, showValue, table } from './format';

describe('output for people', () => {
  it('aligns table columns without trailing spaces', () => {
    expect(
      table(
        ['NAME', 'STATUS', 'VERSION'],
        [
          ['hello-world', 'READY', 3],
          ['x', null, 12],
        ],
      ),
    ).toBe('NAME         STATUS  VERSION\nhello-world  READY   3\nx            -       12\n');
  });

  it('aligns key: value lines and leaves out undefined values', () => {
    expect(
      fields([
        ['Name', 'hello'],
        ['Description', null],
        ['Skipped', undefined],
        ['URL', 'http://x/fn/hello'],
      ]),
    ).toBe('Name:        hello\nDescription: -\nURL:         http://x/fn/hello\n');
  });

  it('prints rates as percentages', () => {
    expect(percent(0)).toBe('0%');
    expect(percent(0.25)).toBe('25%');
    expect(percent(1 / 12)).toBe('8.33%');
    expect(percent(0.125)).toBe('12.5%');
    expect(percent(null)).toBe('-');
  });

  it('prints strings as they are and other values as JSON', () => {
    expect(showValue('Hello Alice')).toBe('Hello Alice');
    expect(showValue({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(showValue(42)).toBe('42');
  });
});
