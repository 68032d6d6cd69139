import { once } from 'events';
import type { CommonSettingsValues } from '@platform/config';
import { AMQP_URL } from '@platform/testing';
import { AmqpConnection } from './amqp-connection';

const withPassword = (password: string): string => {
  const url = new URL(AMQP_URL);
  url.password = password;
  return url.toString();
};

describe('AMQP_URL credentials (real RabbitMQ)', () => {
  it('logs in with the user and password of the URL, and is refused with a wrong password', async () => {
    const good = new AmqpConnection({ AMQP_URL: AMQP_URL } as CommonSettingsValues);
    const bad = new AmqpConnection({ AMQP_URL: withPassword('not-the-password') } as CommonSettingsValues);
    try {
      await once(good.manager, 'connect');
      const [{ err }] = (await once(bad.manager, 'connectFailed')) as [{ err: Error }];
      expect(err.message).toMatch(/ACCESS.REFUSED/);
      expect(good.manager.isConnected()).toBe(true);
      expect(bad.manager.isConnected()).toBe(false);
    } finally {
      await good.onApplicationShutdown();
      await bad.onApplicationShutdown();
    }
  });
});
