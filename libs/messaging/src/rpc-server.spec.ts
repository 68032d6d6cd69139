import { RmqContext } from '@nestjs/microservices';
import { RpcServer } from './rpc';

describe('RpcServer: a reply the broker could not take', () => {
  it('is logged, not left as an unhandled rejection that would end the process', async () => {
    const server = new RpcServer({ urls: ['amqp://127.0.0.1:1'], queue: 'q', noAck: true } as never);
    const sent: Array<{ replyTo: string; body: unknown; options: unknown }> = [];
    const warnings: string[] = [];
    const internals = server as unknown as { channel: unknown; logger: { warn: (m: string) => void } };
    internals.logger = { warn: (m: string) => warnings.push(m) } as never;
    internals.channel = {
      sendToQueue: (replyTo: string, buffer: Buffer, options: unknown) => {
        sent.push({ replyTo, body: JSON.parse(buffer.toString()), options });
        return Promise.reject(new Error('channel closed'));
      },
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      server.sendMessage({ id: 'c1', response: { ok: true }, isDisposed: true }, 'reply-queue', 'c1', new RmqContext([{}, {}, 'p', {}] as never));
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(sent).toEqual([{ replyTo: 'reply-queue', body: { id: 'c1', response: { ok: true }, isDisposed: true }, options: { correlationId: 'c1' } }]);
    expect(unhandled).toEqual([]);
    expect(warnings).toEqual(['an RPC reply was lost with the broker connection: channel closed']);
  });
});
