import { INestApplication, Module } from '@nestjs/common';
import { CloudEvent } from 'cloudevents';
import * as fs from 'fs';
import * as path from 'path';
import { Test } from '@nestjs/testing';
import { newEvent, PlatformEvent } from '@platform/contracts';
import { SettingsModule } from '@platform/config';
import { isolatedEnv, waitFor } from '@platform/testing';
import { EventPublisher } from './event-publisher';
import { EventSubscriber } from './event-subscriber';
import { MessagingModule } from './messaging.module';

async function app(env: Record<string, string>, service: string): Promise<INestApplication> {
  @Module({ imports: [SettingsModule.forRoot({}, env), MessagingModule.forRoot(service)] })
  class M {}
  const ref = await Test.createTestingModule({ imports: [M] }).compile();
  const a = ref.createNestApplication({ logger: false });
  a.enableShutdownHooks();
  await a.init();
  return a;
}

describe('events published while the broker is unreachable', () => {
  const iso = isolatedEnv({ EVENT_PUBLISH_TIMEOUT_MS: '300' });
  afterAll(() => iso.cleanup());

  it('are spooled to disk and delivered once the broker is back, none lost', async () => {
    // A publisher whose broker address answers nothing: every event ends in the spool.
    const offline = await app({ ...iso.env, AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' }, 'spool-test');
    const events: PlatformEvent[] = Array.from({ length: 3 }, (_, i) =>
      newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'test', payload: { i } }),
    );
    await Promise.all(events.map((e) => offline.get(EventPublisher).publish(e)));
    expect(await offline.get(EventPublisher).spooled()).toBe(3);
    await offline.close();

    // The spool holds the CloudEvents as they go on the bus; a line of the format before them is replayed too.
    const [spoolFile] = fs.readdirSync(path.join(iso.dataDir, 'spool')).map((f) => path.join(iso.dataDir, 'spool', f));
    for (const line of fs.readFileSync(spoolFile, 'utf8').trim().split('\n')) expect(new CloudEvent({ ...JSON.parse(line) }).validate()).toBe(true);
    const legacy = newEvent({ name: 'invocation.failed', type: 'FUNCTION_INVOCATION', status: 'FAILURE', source: 'test', error: 'spooled before CloudEvents' });
    fs.appendFileSync(spoolFile, JSON.stringify(legacy) + '\n');
    events.push(legacy);

    // The same service restarted with a reachable broker replays its spool.
    const received: PlatformEvent[] = [];
    const online = await app(iso.env, 'spool-test');
    try {
      await online.get(EventSubscriber).subscribe({
        queue: 'spool-test.events',
        bindings: ['#'],
        handler: (batch) => {
          received.push(...batch);
        },
      });
      await waitFor(() => received.length >= 4, { what: 'the spooled events', timeoutMs: 15_000 });
      expect(received.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
      await waitFor(async () => (await online.get(EventPublisher).spooled()) === 0, { what: 'an empty spool' });
    } finally {
      await online.close();
    }
  }, 30_000);
});
