import { promises as fs } from 'fs';
import * as path from 'path';
import { fromCloudEvent, InvalidCloudEventError, PlatformEvent, toCloudEvent } from '@platform/contracts';

/**
 * Append-only file of events that could not be handed to the broker, one CloudEvent (JSON) a line:
 * the very text that goes on the bus, so the replay publishes valid CloudEvents with their routing
 * keys (the function's label is the subject). Drained back into the broker when it is reachable
 * again, so a broker outage delays events but never drops them. The event store inserts
 * idempotently, so an event replayed twice is stored once.
 */
export class EventSpool {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  append(events: PlatformEvent[]): Promise<void> {
    const lines = events.map((e) => JSON.stringify(toCloudEvent(e)) + '\n').join('');
    this.writing = this.writing.then(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await fs.appendFile(this.file, lines, { mode: 0o600 });
    });
    return this.writing;
  }

  /** Takes the spooled events out of the file (renamed aside while they are replayed). */
  async take(): Promise<{ events: PlatformEvent[]; unreadable: number; commit: () => Promise<void>; restore: () => Promise<void> } | null> {
    await this.writing;
    const draining = `${this.file}.draining`;
    try {
      await fs.access(draining);
    } catch {
      try {
        await fs.rename(this.file, draining);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    }
    const text = await fs.readFile(draining, 'utf8');
    const unreadable: string[] = [];
    const events = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        let line: unknown;
        try {
          line = JSON.parse(l);
        } catch {
          // A torn last line from a crash mid-write: the rest of the file is still good.
          return [];
        }
        const event = readLine(line);
        if (!event) unreadable.push(l);
        return event ? [event] : [];
      });
    return {
      events,
      unreadable: unreadable.length,
      commit: async () => {
        // Kept beside the spool for a person to look at, never silently dropped.
        if (unreadable.length) await fs.appendFile(`${this.file}.unreadable`, unreadable.join('\n') + '\n', { mode: 0o600 });
        await fs.rm(draining, { force: true });
      },
      restore: async () => {
        // Leave the draining file for the next attempt.
      },
    };
  }

  async size(): Promise<number> {
    let n = 0;
    for (const f of [this.file, `${this.file}.draining`]) {
      try {
        const text = await fs.readFile(f, 'utf8');
        n += text.split('\n').filter((l) => l.trim() !== '').length;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return n;
  }
}

/** A spooled line: a CloudEvent, or a PlatformEvent as spools written before CloudEvents held them. */
function readLine(line: unknown): PlatformEvent | null {
  const o = line as Record<string, unknown> | null;
  if (o && typeof o === 'object' && !('specversion' in o) && typeof o.name === 'string' && typeof o.id === 'string') return o as unknown as PlatformEvent;
  try {
    return fromCloudEvent(line);
  } catch (err) {
    if (err instanceof InvalidCloudEventError) return null;
    throw err;
  }
}
