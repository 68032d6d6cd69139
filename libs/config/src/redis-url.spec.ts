import { redacted, redisConnectionOptions } from './redis-url';

describe('REDIS_URL -> the options every Redis connection is made with', () => {
  it('keeps host and port, database 0 by default', () => {
    expect(redisConnectionOptions('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379, db: 0 });
    expect(redisConnectionOptions('redis://redis.internal')).toEqual({ host: 'redis.internal', port: 6379, db: 0 });
  });

  it('carries user and password, percent-decoded, and a password alone', () => {
    expect(redisConnectionOptions('redis://hks:p%40ss%3Aw%2Frd@redis:6380/2')).toEqual({
      host: 'redis',
      port: 6380,
      username: 'hks',
      password: 'p@ss:w/rd',
      db: 2,
    });
    expect(redisConnectionOptions('redis://:only-a-password@redis:6379')).toEqual({ host: 'redis', port: 6379, password: 'only-a-password', db: 0 });
  });

  it('turns on TLS for rediss://, checked against the host name', () => {
    expect(redisConnectionOptions('rediss://default:secret@cache.example.com:6380/1')).toEqual({
      host: 'cache.example.com',
      port: 6380,
      username: 'default',
      password: 'secret',
      db: 1,
      tls: { servername: 'cache.example.com' },
    });
  });

  it('takes an IPv6 host without its brackets', () => {
    expect(redisConnectionOptions('redis://[::1]:6379/3')).toMatchObject({ host: '::1', port: 6379, db: 3 });
  });

  it('refuses another scheme or a database that is not a number, without showing the password', () => {
    expect(() => redisConnectionOptions('http://u:secret@redis:6379')).toThrow('REDIS_URL=http://u:***@redis:6379 must start with redis:// or rediss://');
    expect(() => redisConnectionOptions('redis://u:secret@redis:6379/cache')).toThrow(/the path names the database .* not "\/cache"/);
    expect(() => redisConnectionOptions('redis://u:secret@redis:6379/cache')).not.toThrow(/secret/);
  });

  it('redacts only the password of a URL', () => {
    expect(redacted('amqp://hks:secret@mq:5672')).toBe('amqp://hks:***@mq:5672');
    expect(redacted('redis://redis:6379')).toBe('redis://redis:6379');
  });
});
