import { LogBuffer } from './log-buffer';

describe('per-invocation logs', () => {
  it('keeps what fits and says how much was cut', () => {
    const logs = new LogBuffer(10);
    logs.append('12345');
    logs.append('67890abc');
    logs.append('def');
    expect(logs.toString()).toBe('1234567890\n...[logs truncated: 6 more characters]');
  });

  it('adds no marker when nothing was cut', () => {
    const logs = new LogBuffer(10);
    logs.append('ok\n');
    expect(logs.toString()).toBe('ok\n');
  });
});
