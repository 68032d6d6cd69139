import { mkdtempSync, promises as fsp, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { newEvent, PlatformEvent } from '@platform/contracts';
import { EventJournal, JournalSync } from './event-journal';

const event = (n: number): PlatformEvent =>
  newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'test', payload: { n, text: 'x'.repeat(500) } });

describe.each<{ sync: JournalSync }>([{ sync: 'each' }, { sync: { everyMs: 20 } }])('EventJournal, sync $sync', ({ sync }) => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hks-journal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a later process every appended event that was not released, and none that was', async () => {
    const crashed = new EventJournal(dir, sync);
    expect(await crashed.open()).toEqual([]);
    const events = Array.from({ length: 40 }, (_, i) => event(i));
    // Appended concurrently: they share group commits, and each resolves once on disk.
    const tickets = await Promise.all(events.map((e) => crashed.append([e])));
    tickets.filter((_, i) => i % 2 === 0).forEach((t) => crashed.release(t));
    await crashed.append([]); // the release marks go out with the next write
    // No close(): the process died here.

    const next = new EventJournal(dir, sync);
    const earlier = await next.open();
    expect(earlier.length).toBeGreaterThan(0);
    const recovered = await next.recover(earlier);
    expect(recovered.map((e) => e.id)).toEqual(events.filter((_, i) => i % 2 === 1).map((e) => e.id));
    await next.dropRecovered(earlier);
    await next.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a journal another running process owns', async () => {
    writeFileSync(path.join(dir, 'owner.pid'), String(process.ppid));
    await expect(new EventJournal(dir, sync).open()).rejects.toThrow(
      `belongs to process ${process.ppid}, which is running: give each process its own HKS_DATA_DIR`,
    );
  });

  it('rotates segments and deletes each once all its events are released', async () => {
    const journal = new EventJournal(dir, sync);
    await journal.open();
    const tickets = [];
    for (let i = 0; i < 12; i++) tickets.push(await journal.append(Array.from({ length: 500 }, (_, j) => event(i * 500 + j))));
    expect(new Set(tickets.map((t) => t.segment)).size).toBe(2);
    tickets.forEach((t) => journal.release(t));
    expect(journal.outstanding()).toBe(0);
    await journal.close();
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);

  it('answers an append made right after the previous commit resolved (no lost wake-up)', async () => {
    const journal = new EventJournal(dir, sync);
    await journal.open();
    for (let i = 0; i < 20; i++) await journal.append([event(i)]);
    expect(journal.outstanding()).toBe(20);
    await journal.close();
  });

  it('keeps what was not released through a clean close, for the next start', async () => {
    const journal = new EventJournal(dir, sync);
    await journal.open();
    const kept = event(1);
    await journal.append([kept]);
    await journal.close();
    const next = new EventJournal(dir, sync);
    const earlier = await next.open();
    expect((await next.recover(earlier)).map((e) => e.id)).toEqual([kept.id]);
    await next.close();
  });

  it('writes release marks with the next events, not on their own, and writes the last ones at a clean close', async () => {
    const journal = new EventJournal(dir, sync);
    await journal.open();
    const released = event(1);
    const kept = event(2);
    const ticket = await journal.append([released]);
    await journal.append([kept]);
    const segment = () => readdirSync(dir).find((f) => f.endsWith('.wal'))!;
    const marks = () =>
      readFileSync(path.join(dir, segment()), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"acked"')).length;
    journal.release(ticket);
    // No synchronous write of its own for the mark (an append arriving now would wait behind it); long enough for one.
    await new Promise((r) => setTimeout(r, 200));
    expect(marks()).toBe(0);
    await journal.close();
    expect(marks()).toBe(1);
    const next = new EventJournal(dir, sync);
    const earlier = await next.open();
    expect((await next.recover(earlier)).map((e) => e.id)).toEqual([kept.id]);
    await next.close();
  });
});

describe('EventJournal, sync { everyMs }', () => {
  it('puts every write on disk within the interval, one fdatasync for all written meanwhile', async () => {
    const sync = { everyMs: 20 };
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-journal-'));
    const probe = await fsp.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = jest.spyOn(proto, 'datasync');
    try {
      const journal = new EventJournal(dir, sync);
      await journal.open();
      await journal.append([event(1)]);
      await new Promise((r) => setTimeout(r, sync.everyMs * 5)); // its sync, and the spare segment made ready
      const before = datasync.mock.calls.length;
      await Promise.all([journal.append([event(2)]), journal.append([event(3)])]);
      await journal.append([event(4)]);
      await new Promise((r) => setTimeout(r, sync.everyMs * 5));
      // Three writes within the interval share one fdatasync of the segment.
      expect(datasync.mock.calls.length - before).toBe(1);
      await journal.close();
    } finally {
      datasync.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
