import { consumerModule, PublisherConnections } from './publishing';

describe('PublisherConnections', () => {
  it('opens one connection per address, at the first publish, and shares it with the next ones', async () => {
    const opened: string[] = [];
    const pool = new PublisherConnections<string>(() => Promise.resolve());
    const open = (key: string) => () => {
      opened.push(key);
      return Promise.resolve(`conn-${key}`);
    };
    const got = await Promise.all([pool.get('a', open('a')), pool.get('a', open('a')), pool.get('b', open('b'))]);
    expect(got).toEqual(['conn-a', 'conn-a', 'conn-b']);
    expect(opened).toEqual(['a', 'b']);
  });

  it('forgets a connection that failed to open, so the next publish tries again', async () => {
    const pool = new PublisherConnections<string>(() => Promise.resolve());
    await expect(pool.get('a', () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    await expect(pool.get('a', () => Promise.resolve('second'))).resolves.toBe('second');
  });

  it('ends every open connection at closeAll, passing over one that never opened or fails to end, then opens afresh', async () => {
    const ended: string[] = [];
    const pool = new PublisherConnections<string>((c) => {
      ended.push(c);
      return c === 'b' ? Promise.reject(new Error('already gone')) : Promise.resolve();
    });
    await pool.get('a', () => Promise.resolve('a'));
    await pool.get('b', () => Promise.resolve('b'));
    const never = pool.get('c', () => Promise.reject(new Error('refused')));
    await expect(never).rejects.toThrow('refused');
    await pool.get('d', () => Promise.resolve('d'));
    await expect(pool.closeAll()).resolves.toBeUndefined();
    expect(ended).toEqual(['a', 'b', 'd']);
    await expect(pool.get('a', () => Promise.resolve('a2'))).resolves.toBe('a2');
  });
});

describe('consumerModule', () => {
  it('creates consumers with the factory and hands publish and close to the publisher', async () => {
    const calls: unknown[] = [];
    const publisher = {
      publish: (...args: unknown[]) => {
        calls.push(['publish', ...args]);
        return Promise.resolve();
      },
      close: () => {
        calls.push(['close']);
        return Promise.resolve();
      },
    };
    const consumer = { start: () => Promise.resolve(), stop: () => Promise.resolve() };
    const m = consumerModule(() => consumer, publisher);
    const message = { invocationId: 'i', functionId: 'f', status: 'succeeded', result: 1, error: null, eventId: null };
    const ctx = { namespace: 'ns', platformAmqpUrl: 'amqp://x' };
    expect(m.create({} as never)).toBe(consumer);
    await m.publish!({ type: 'nats' }, 'results', message, ctx);
    await m.close!();
    expect(calls).toEqual([['publish', { type: 'nats' }, 'results', message, ctx], ['close']]);
  });
});
