import { promises as fs } from 'fs';
import * as path from 'path';
import { PlatformEvent } from '@platform/contracts';

/**
 * Append-only file of events that could not be handed to the broker. Drained back into the broker
 * when it is reachable again, so a broker outage delays events but never drops them. The event
 * store inserts idempotently, so an event replayed twice is stored once.
 */
export class EventSpool {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  append(events: PlatformEvent[]): Promise<void> {
    const lines = events.map((e) => JSON.stringify(e) + '\n').join('');
    this.writing = this.writing.then(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await fs.appendFile(this.file, lines, { mode: 0o600 });
    });
    return this.writing;
  }

  /** Takes the spooled events out of the file (renamed aside while they are replayed). */
  async take(): Promise<{ events: PlatformEvent[]; commit: () => Promise<void>; restore: () => Promise<void> } | null> {
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
    const events = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as PlatformEvent];
        } catch {
          // A torn last line from a crash mid-write: the rest of the file is still good.
          return [];
        }
      });
    return {
      events,
      commit: () => fs.rm(draining, { force: true }),
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
