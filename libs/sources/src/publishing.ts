import type { PublishContext, SourceModule, TopicMessage } from './types';

/** What publishes a consumer kind's results and errors (resultTopic, errorTopic) and closes what it keeps open. */
export interface ResultPublisher {
  publish(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void>;
  close(): Promise<void>;
}

/**
 * The connections a publisher keeps, one per address, opened at the first publish to it and shared by the next
 * ones; one that fails to open is forgotten, so the next publish tries again.
 */
export class PublisherConnections<T> {
  private readonly open = new Map<string, Promise<T>>();

  /** `end` closes one connection (at shutdown). */
  constructor(private readonly end: (connection: T) => Promise<unknown>) {}

  get(key: string, connect: () => Promise<T>): Promise<T> {
    let connection = this.open.get(key);
    if (!connection) {
      connection = connect();
      const opening = connection;
      opening.catch(() => {
        if (this.open.get(key) === opening) this.open.delete(key);
      });
      this.open.set(key, opening);
    }
    return connection;
  }

  /** Ends every connection; one that never opened, or fails to end, is no error at shutdown. */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const opening of all) {
      const connection = await opening.catch(() => undefined);
      if (connection !== undefined) await this.end(connection).catch(() => undefined);
    }
  }
}

/** A consumer kind's module: its consumers, and the publisher of its results and errors. */
export function consumerModule(create: SourceModule['create'], publisher: ResultPublisher): SourceModule {
  return {
    create,
    publish: (trigger, topic, message, ctx) => publisher.publish(trigger, topic, message, ctx),
    close: () => publisher.close(),
  };
}
