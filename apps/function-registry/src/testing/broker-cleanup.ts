import * as amqp from 'amqplib';
import { eventExchange, rpcQueue, RpcService } from '@platform/contracts';

/**
 * Removes the durable queues and exchanges a test namespace left on the shared RabbitMQ (RPC queues,
 * the registry's build-event queue, the event exchanges), so test runs do not pile them up.
 */
export async function removeNamespace(amqpUrl: string, namespace: string, services: RpcService[]): Promise<void> {
  const conn = await amqp.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    const exchange = eventExchange(namespace);
    for (const q of [...services.map((s) => rpcQueue(namespace, s)), `${namespace}.function-registry.builds`, `${exchange}.dead`]) {
      await ch.deleteQueue(q);
    }
    await ch.deleteExchange(exchange);
    await ch.deleteExchange(`${exchange}.dlx`);
    await ch.close();
  } finally {
    await conn.close();
  }
}
