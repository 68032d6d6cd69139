import { toErrorBody } from './exception-filters';
import { registerDependencies } from './dependency-errors';
import { toDomainError } from './rpc';

describe('errors from a dependency', () => {
  it('answers 503 naming Postgres for a pool connection error the persistence layer tagged', () => {
    const err = Object.defineProperty(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'dependency', { value: 'Postgres' });
    expect(toErrorBody(err)).toMatchObject({ statusCode: 503, message: expect.stringContaining('Postgres is unavailable') });
  });

  it('names the dependency by the port of a bare socket error', () => {
    registerDependencies({ Redis: 'redis://127.0.0.1:16379' });
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:16379'), { code: 'ECONNREFUSED', port: 16379 });
    expect(toErrorBody(err)).toMatchObject({ statusCode: 503, message: expect.stringContaining('Redis') });
  });

  it('answers 400 when Postgres refuses a NUL in the text of a request', () => {
    const err = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { name: 'QueryFailedError', driverError: { code: '22021' } });
    expect(toErrorBody(err)).toMatchObject({ statusCode: 400, message: expect.stringContaining('NUL') });
  });

  it("keeps a 500 for an error that is nobody else's", () => {
    expect(toErrorBody(new Error('boom'))).toMatchObject({ statusCode: 500 });
  });

  it('answers 503 naming RabbitMQ when the RPC client lost the broker', () => {
    expect(toDomainError('Error: Connection lost. Trying to reconnect...', 'function-registry', 1000)).toMatchObject({
      statusCode: 503,
      message: expect.stringMatching(/RabbitMQ is unavailable.*function-registry/),
    });
  });

  it('answers 413 and 400 for bodies the body parser refused, not 500', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413, limit: 100 });
    const charset = Object.assign(new Error('unsupported charset "LATIN1"'), { type: 'charset.unsupported', status: 415 });
    expect(toErrorBody(tooLarge)).toMatchObject({ statusCode: 413, message: 'The request body is larger than 100 bytes' });
    expect(toErrorBody(charset)).toMatchObject({ statusCode: 415 });
  });
});
