import * as amqp from 'amqplib';
import { EVENT_LOG_QUEUE, eventExchange, rpcQueue, RpcService } from '@platform/contracts';

/**
 * Removes the durable queues and exchanges a test namespace left on the shared RabbitMQ, so test runs do not pile
 * them up: the RPC queues of `services`, the durable subscriber queues named in `subscriberQueues` (as given to
 * EventSubscriber, e.g. the registry's 'function-registry.builds'), the event log's queue (every publisher declares it),
 * the dead-letter queue and the event exchanges.
 */
export async function removeNamespace(amqpUrl: string, namespace: string, services: RpcService[], subscriberQueues: string[] = []): Promise<void> {
  const conn = await amqp.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    const exchange = eventExchange(namespace);
    for (const q of [
      ...services.map((s) => rpcQueue(namespace, s)),
      ...subscriberQueues.map((q) => `${namespace}.${q}`),
      `${namespace}.${EVENT_LOG_QUEUE}`,
      `${exchange}.dead`,
    ]) {
      await ch.deleteQueue(q);
    }
    await ch.deleteExchange(exchange);
    await ch.deleteExchange(`${exchange}.dlx`);
    await ch.close();
  } finally {
    await conn.close();
  }
}
