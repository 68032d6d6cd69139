import { Logger } from '@nestjs/common';
import { InvalidSettingsError } from '@platform/config';
import { LogContexts } from './log-context';
import { platformLogger, serviceLogLevel, useLogDestination } from './platform-logger';

describe('PlatformLogger', () => {
  const lines: Array<Record<string, unknown>> = [];
  beforeAll(() => useLogDestination({ write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }));
  beforeEach(() => (lines.length = 0));

  it('writes one JSON line with the service, the class, the message and the level', () => {
    const logger = platformLogger('builder', 'info');
    logger.log('build b1 started', 'BuildWorker');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', service: 'builder', context: 'BuildWorker', msg: 'build b1 started' })]);
    expect(typeof lines[0].time).toBe('string');
  });

  it('names the service whose code runs and its invocation, whichever logger Nest holds (one process, six services)', () => {
    // Nest's static Logger goes to the last app's logger: here the gateway's, while the invoker's code runs.
    platformLogger('invoker', 'debug');
    const gatewayLogger = platformLogger('gateway', 'info');
    Logger.overrideLogger(gatewayLogger);
    LogContexts.run({ service: 'invoker' }, () =>
      LogContexts.run({}, () => {
        LogContexts.set({ invocationId: 'inv-1' });
        new Logger('InvokeServer').debug('answered 200');
      }),
    );
    new Logger('Gateway').debug('not at info');
    expect(lines).toEqual([
      expect.objectContaining({ service: 'invoker', invocationId: 'inv-1', context: 'InvokeServer', msg: 'answered 200', level: 'debug' }),
    ]);
  });

  it('keeps the stack of an error', () => {
    const logger = platformLogger('deployer', 'info');
    logger.error('it failed', 'Error: it failed\n    at here', 'Dispatcher');
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'it failed', context: 'Dispatcher', stack: 'Error: it failed\n    at here' });
  });

  it('takes <SERVICE>_LOG_LEVEL over LOG_LEVEL, and refuses a level that is none', () => {
    expect(serviceLogLevel('event-store', { LOG_LEVEL: 'warn', EVENT_STORE_LOG_LEVEL: 'debug' })).toBe('debug');
    expect(serviceLogLevel('function-registry', { LOG_LEVEL: 'warn', REGISTRY_LOG_LEVEL: 'error' })).toBe('error');
    expect(serviceLogLevel('gateway', { LOG_LEVEL: 'warn', INVOKER_LOG_LEVEL: 'debug' })).toBe('warn');
    expect(serviceLogLevel('gateway', {})).toBe('info');
    expect(() => serviceLogLevel('invoker', { INVOKER_LOG_LEVEL: 'loud' })).toThrow(InvalidSettingsError);
    expect(() => serviceLogLevel('invoker', { INVOKER_LOG_LEVEL: 'loud' })).toThrow(/INVOKER_LOG_LEVEL=loud must be one of/);
  });
});
