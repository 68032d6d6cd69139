import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

const FLUSH_INTERVAL_MS = 250;
const FLUSH_BYTES = 32 * 1024;
/** A build log longer than this keeps its beginning and its end; the middle is dropped with a marker. */
const MAX_LOG_CHARS = 1024 * 1024;
const TAIL_CHARS = 256 * 1024;

/**
 * Streams a build's output into its row as it happens: chunks are buffered and appended in batches
 * (one UPDATE per quarter second or 32 KiB), so a watcher sees progress without a write per line.
 */
export class BuildLog {
  private readonly logger = new Logger(BuildLog.name);
  private pending = '';
  private written = 0;
  private dropped = 0;
  private tail = '';
  /** Once past the cap, everything goes to the tail, so the order of the output is kept. */
  private truncating = false;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly ds: DataSource,
    private readonly buildId: string,
  ) {}

  /** Appends text; never throws (a log write must not fail the build). */
  readonly write = (text: string): void => {
    if (this.closed || !text) return;
    if (this.truncating || this.written + this.pending.length + text.length > MAX_LOG_CHARS - TAIL_CHARS) {
      this.truncating = true;
      // Past the cap: keep only a rolling tail, written at close, since the end holds the error.
      this.tail += text;
      if (this.tail.length > TAIL_CHARS) {
        this.dropped += this.tail.length - TAIL_CHARS;
        this.tail = this.tail.slice(-TAIL_CHARS);
      }
      return;
    }
    this.pending += text;
    // Not awaited: flush() never rejects (a failed append is logged and its text kept for the next one).
    if (this.pending.length >= FLUSH_BYTES) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  };

  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const chunk = this.pending;
    this.pending = '';
    if (!chunk) return this.flushing;
    this.written += chunk.length;
    this.flushing = this.flushing.then(() =>
      this.ds
        .query(`UPDATE "builder"."builds" SET "log" = "log" || $1 WHERE "id" = $2`, [chunk, this.buildId])
        .then(() => undefined)
        .catch((err: Error) => {
          // The full log is still written at the end (close() returns it); this batch is only late.
          this.logger.warn(`build ${this.buildId}: log append failed: ${err.message}`);
          this.written -= chunk.length;
          this.pending = chunk + this.pending;
        }),
    );
    return this.flushing;
  }

  /** Writes what is left and stops accepting text. */
  async close(): Promise<void> {
    if (this.dropped || this.tail) {
      const marker = this.dropped ? `\n[... ${this.dropped} characters of build output left out ...]\n` : '';
      this.pending += marker + this.tail;
      this.tail = '';
    }
    this.closed = true;
    await this.flush();
    if (this.pending) await this.flush();
  }
}
