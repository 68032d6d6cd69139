import { Logger } from '@nestjs/common';
import { constants as fsConstants, promises as fs, writeSync } from 'fs';
import * as path from 'path';
import { PlatformEvent } from '@platform/contracts';

/** A segment is closed (and a new one opened) past this size; closed segments go once all their events are handed over. */
const SEGMENT_BYTES = 4 * 1024 * 1024;
const SEGMENT_SUFFIX = '.wal';

const OWNER_FILE = 'owner.pid';
/**
 * Release marks go out with the next events' write; on their own (a synchronous write of their own, which an
 * append arriving meanwhile would wait behind) only after this long without one. They spare a replay, not a loss.
 */
const ACK_IDLE_MS = 1_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** write(2) until every byte is written: a short write (a full disk) must not leave half a line before the next. */
function writeAll(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done, position + done);
    if (n <= 0) throw new Error(`the event journal wrote ${done} of ${bytes.length} bytes`);
    done += n;
  }
}

/** Where an appended group of events sits, to release it once the broker has them. */
export interface JournalTicket {
  readonly segment: number;
  readonly ids: string[];
}

interface Segment {
  seq: number;
  file: string;
  handle: fs.FileHandle;
  bytes: number;
  /** Events appended and not yet released. */
  outstanding: number;
  closed: boolean;
  /** Bytes written since the last fdatasync (with `sync: { everyMs }`). */
  unsynced: boolean;
}

/**
 * When an append counts as durable. `each`: on disk before `append` resolves (O_DSYNC: survives a power cut).
 * `{ everyMs }`: in the kernel's page cache before `append` resolves (survives kill -9 of the process, which is what
 * the platform's restarts see) and on disk within `everyMs` (a power cut or kernel crash can lose that last window).
 */
export type JournalSync = 'each' | { everyMs: number };

interface Waiting {
  text: string;
  ids: string[];
  resolve: (ticket: JournalTicket) => void;
  reject: (err: Error) => void;
}

/**
 * A write-ahead log of events with group commit: `append` resolves once the events are durable (see JournalSync:
 * on disk with O_DSYNC, or in the page cache and synced within an interval), and every append waiting while one write
 * runs shares the next one.
 * Events go to the broker afterwards; `release` marks them handed over (an `acked` line, written with
 * the next events, or alone after ACK_IDLE_MS: it only spares a replay), and a segment whose events are
 * all released is deleted. After a crash,
 * `recover` hands every event not marked handed over back to the caller to publish again (the event
 * store inserts by event id, so a replayed event is stored once).
 */
export class EventJournal {
  private readonly logger = new Logger(EventJournal.name);
  private readonly segments = new Map<number, Segment>();
  private current?: Segment;
  private spare?: Promise<Segment>;
  private nextSeq = 1;
  private queue: Waiting[] = [];
  private acks: string[] = [];
  /** Set when the release marks may be written on their own (ACK_IDLE_MS passed, or closing). */
  private acksDue = false;
  private ackTimer?: NodeJS.Timeout;
  private cycle?: Promise<void>;
  private closed = false;
  private syncTimer?: NodeJS.Timeout;
  private syncing?: Promise<void>;

  constructor(
    readonly dir: string,
    private readonly sync: JournalSync = 'each',
  ) {}

  /** Opens the journal; resolves with the segments of an earlier process (to replay, then `dropRecovered`). */
  async open(): Promise<number[]> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.claim();
    const earlier = (await fs.readdir(this.dir))
      .filter((f) => f.endsWith(SEGMENT_SUFFIX))
      .map((f) => Number(f.slice(0, -SEGMENT_SUFFIX.length)))
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => a - b);
    this.nextSeq = (earlier[earlier.length - 1] ?? 0) + 1;
    return earlier;
  }

  /** One live process per journal: a second one would take the first one's segments for a crashed process's. */
  private async claim(): Promise<void> {
    const owner = path.join(this.dir, OWNER_FILE);
    let pid = 0;
    try {
      pid = Number((await fs.readFile(owner, 'utf8')).trim());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new Error(
        `the event journal ${this.dir} belongs to process ${pid}, which is running: give each process its own HKS_DATA_DIR ` +
          `(or remove ${owner} if that process is not one of ours)`,
      );
    }
    await fs.writeFile(owner, String(process.pid), { mode: 0o600 });
  }

  /** The events of earlier segments that were not marked handed over, oldest first. */
  async recover(seqs: number[]): Promise<PlatformEvent[]> {
    const events: PlatformEvent[] = [];
    const acked = new Set<string>();
    for (const seq of seqs) {
      const text = await fs.readFile(this.fileOf(seq), 'utf8');
      for (const line of text.split('\n')) {
        if (!line || line.charCodeAt(0) === 0) continue;
        let entry: PlatformEvent | { acked: string[] };
        try {
          entry = JSON.parse(line);
        } catch {
          // A torn last line (the process died mid-write, before the fsync): never answered, never promised.
          continue;
        }
        if ('acked' in entry) for (const id of entry.acked) acked.add(id);
        else events.push(entry);
      }
    }
    const seen = new Set<string>();
    return events.filter((e) => !acked.has(e.id) && !seen.has(e.id) && seen.add(e.id));
  }

  async dropRecovered(seqs: number[]): Promise<void> {
    for (const seq of seqs) await fs.rm(this.fileOf(seq), { force: true });
  }

  /** Resolves once `events` are durable (JournalSync); one write covers every append waiting meanwhile. */
  append(events: PlatformEvent[]): Promise<JournalTicket> {
    if (this.closed) return Promise.reject(new Error('the event journal is closed'));
    const text = events.map((e) => JSON.stringify(e) + '\n').join('');
    return new Promise((resolve, reject) => {
      this.queue.push({ text, ids: events.map((e) => e.id), resolve, reject });
      this.kick();
    });
  }

  /** The ticket's events are with the broker (or its spool): their segment may go once nothing else in it waits. */
  release(ticket: JournalTicket): void {
    const seg = this.segments.get(ticket.segment);
    if (!seg) return;
    seg.outstanding -= ticket.ids.length;
    if (seg.closed) {
      if (seg.outstanding <= 0) void this.remove(seg);
      return;
    }
    for (const id of ticket.ids) this.acks.push(id);
    if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.acksDue = true;
        this.kick();
      }, ACK_IDLE_MS);
      this.ackTimer.unref();
    }
  }

  /** Events appended and not yet released (for health and tests). */
  outstanding(): number {
    let n = 0;
    for (const s of this.segments.values()) n += s.outstanding;
    return n;
  }

  /** Stops appending; segments whose events were all released are deleted, the others stay for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    // The release marks of a segment kept for the next start spare it a replay.
    this.acksDue = true;
    this.kick();
    while (this.cycle) await this.cycle;
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await this.syncing;
    for (const seg of [...this.segments.values()]) {
      if (!seg.closed) {
        seg.closed = true;
        if (seg.unsynced && seg.outstanding > 0) await seg.handle.datasync();
        await seg.handle.close();
      }
      if (seg.outstanding <= 0) await this.remove(seg);
    }
    this.current = undefined;
    const spare = await this.spare?.catch(() => undefined);
    this.spare = undefined;
    if (spare) {
      await spare.handle.close();
      await fs.rm(spare.file, { force: true });
    }
    await fs.rm(path.join(this.dir, OWNER_FILE), { force: true });
  }

  private fileOf(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(12, '0')}${SEGMENT_SUFFIX}`);
  }

  private kick(): void {
    if (this.cycle) return;
    // Page-cache writes wait for the end of this turn of the event loop: the answers of every worker reply and
    // request read in it share one write(2).
    const run = this.sync === 'each' ? this.runCycles() : new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.runCycles());
    this.cycle = run.finally(() => {
      this.cycle = undefined;
      // Appended after the loop's last look and before this: not left waiting.
      if (this.queue.length || this.acksWritable()) this.kick();
    });
  }

  private acksWritable(): boolean {
    return this.acksDue && this.acks.length > 0 && this.current !== undefined;
  }

  /** Group commit: everything queued while the previous write and fsync ran goes out in the next one. */
  private async runCycles(): Promise<void> {
    while (this.queue.length || this.acksWritable()) {
      const group = this.queue;
      this.queue = [];
      const acks = this.acks;
      this.acks = [];
      this.acksDue = false;
      try {
        const seg = group.length ? await this.writable() : this.current!;
        let text = acks.length ? JSON.stringify({ acked: acks }) + '\n' : '';
        let ids = 0;
        for (const w of group) {
          text += w.text;
          ids += w.ids.length;
        }
        const bytes = Buffer.from(text, 'utf8');
        // sync 'each': the file is open with O_DSYNC, so the write returns once the data is on disk (one syscall,
        // one thread-pool round trip, instead of a write and an fdatasync). Otherwise it is in the page cache and
        // the timer syncs it.
        if (this.sync === 'each') await seg.handle.write(bytes, 0, bytes.length, seg.bytes);
        // Into the page cache: a plain write(2) on the event loop (microseconds) costs less than a trip through the
        // thread pool; the appends queued meanwhile share it.
        else writeAll(seg.handle.fd, bytes, seg.bytes);
        seg.bytes += bytes.length;
        if (this.sync !== 'each') this.scheduleSync(seg);
        seg.outstanding += ids;
        for (const w of group) w.resolve({ segment: seg.seq, ids: w.ids });
        if (seg.bytes >= SEGMENT_BYTES) await this.rotate(seg);
      } catch (err) {
        this.logger.error(`event journal write failed: ${(err as Error).message}`);
        for (const w of group) w.reject(err as Error);
      }
    }
  }

  /** Puts what was written to `seg` on disk within the sync interval (one fdatasync for everything meanwhile). */
  private scheduleSync(seg: Segment): void {
    seg.unsynced = true;
    if (this.syncTimer || this.sync === 'each') return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.syncing = this.syncNow().finally(() => (this.syncing = undefined));
    }, this.sync.everyMs);
    this.syncTimer.unref();
  }

  private async syncNow(): Promise<void> {
    for (const seg of this.segments.values()) {
      if (!seg.unsynced || seg.closed) continue;
      seg.unsynced = false;
      try {
        await seg.handle.datasync();
      } catch (err) {
        // Tried again at the next interval; the data is in the page cache meanwhile.
        this.logger.error(`event journal fdatasync failed (retried): ${(err as Error).message}`);
        this.scheduleSync(seg);
      }
    }
  }

  private async writable(): Promise<Segment> {
    if (this.current && !this.current.closed) return this.current;
    const seg = await (this.spare ?? this.prepare());
    this.spare = undefined;
    this.segments.set(seg.seq, seg);
    this.current = seg;
    // The next one is made ready meanwhile, off the path of the commits.
    const spare = this.prepare();
    spare.catch(() => undefined);
    this.spare = spare;
    return seg;
  }

  private async prepare(): Promise<Segment> {
    const seq = this.nextSeq++;
    const file = this.fileOf(seq);
    const { O_WRONLY, O_CREAT, O_EXCL, O_DSYNC } = fsConstants;
    const handle = await fs.open(file, O_WRONLY | O_CREAT | O_EXCL | (this.sync === 'each' ? O_DSYNC : 0), 0o600);
    // Written with zeros first, so that each commit overwrites allocated blocks in place: the sync then
    // flushes data only, not the file's size and extents (much cheaper on ext4). Recovery skips the zeros.
    await handle.write(Buffer.alloc(SEGMENT_BYTES), 0, SEGMENT_BYTES, 0);
    // The new name itself must survive a power cut, not only its content.
    const dir = await fs.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    // Its zeros on disk now: later syncs then flush data only.
    if (this.sync !== 'each') await handle.datasync();
    return { seq, file, handle, bytes: 0, outstanding: 0, closed: false, unsynced: false };
  }

  private async rotate(seg: Segment): Promise<void> {
    seg.closed = true;
    this.current = undefined;
    if (seg.unsynced) await seg.handle.datasync();
    await seg.handle.close();
    if (seg.outstanding <= 0) await this.remove(seg);
  }

  private async remove(seg: Segment): Promise<void> {
    if (!this.segments.delete(seg.seq)) return;
    await fs.rm(seg.file, { force: true });
  }
}
