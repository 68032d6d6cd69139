import { watch as fsWatch } from 'fs';

/** Directories whose changes never mean a new version: dependencies, VCS data, Python's caches. */
const IGNORED_DIRS = new Set(['node_modules', '__pycache__', '.venv']);

/**
 * Whether a change at `rel` (a path relative to the watched directory) is not the user's code: anything under
 * node_modules, __pycache__ or .venv, any dotfile or dot-directory (.git, editor swap files, .hks), and the backup
 * and temporary files editors write beside a file while saving it (file~, vim's 4913, file.swp).
 */
export function isIgnoredChange(rel: string): boolean {
  const parts = rel.split(/[\\/]/).filter(Boolean);
  if (!parts.length) return true;
  if (parts.some((p) => p.startsWith('.') || IGNORED_DIRS.has(p))) return true;
  const name = parts[parts.length - 1];
  return name.endsWith('~') || /\.(swp|swx|tmp)$/i.test(name) || /^\d+$/.test(name);
}

/** What the watcher uses of an fs.FSWatcher. */
export interface DirectoryWatch {
  close(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SourceWatcherOptions {
  /** How long the directory must stay quiet before a change is reported (default 100 ms). */
  debounceMs?: number;
  /** fs.watch by default; tests pass a fake. */
  watch?: (dir: string, listener: (event: string, filename: string | Buffer | null) => void) => DirectoryWatch;
  /** Extra rule for what is not code (the .hksignore patterns). */
  ignores?: (rel: string) => boolean;
}

/**
 * Watches a function's directory (recursively) and calls `onChange` once per burst of saves, with the paths
 * changed and when the first of them was seen (the save), after the directory stayed quiet for `debounceMs`.
 * An editor's save is several events (write a temp file, rename, chmod): one call, not five deploys.
 */
export class SourceWatcher {
  private watcher?: DirectoryWatch;
  private timer?: NodeJS.Timeout;
  private pending = new Set<string>();
  private firstAt = 0;
  private readonly debounceMs: number;

  constructor(
    private readonly dir: string,
    private readonly onChange: (change: { paths: string[]; savedAt: number }) => void,
    private readonly o: SourceWatcherOptions = {},
  ) {
    this.debounceMs = o.debounceMs ?? 100;
  }

  start(): void {
    const watch = this.o.watch ?? ((dir, listener) => fsWatch(dir, { recursive: true }, listener));
    this.watcher = watch(this.dir, (_event, filename) => {
      // Without a name (some platforms), something changed somewhere: still worth a look.
      this.notify(filename === null ? '?' : filename.toString());
    });
    this.watcher.on('error', () => this.notify('?'));
  }

  /** One change seen by the watcher (exposed for tests and for callers that know a file changed). */
  notify(rel: string): void {
    if (rel !== '?' && (isIgnoredChange(rel) || this.o.ignores?.(rel))) return;
    if (!this.pending.size) this.firstAt = Date.now();
    this.pending.add(rel);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.debounceMs);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.watcher?.close();
    this.watcher = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const paths = [...this.pending].filter((p) => p !== '?').sort();
    const savedAt = this.firstAt;
    this.pending.clear();
    this.onChange({ paths, savedAt });
  }
}

/**
 * Runs `task` for each change, one at a time: a change that comes while a run is going on is not lost, and the
 * changes that came meanwhile are coalesced into the next run (only the newest code is worth deploying).
 */
export class SerialRunner<T> {
  private running?: Promise<void>;
  private next?: T;
  private hasNext = false;

  constructor(
    private readonly task: (item: T) => Promise<void>,
    /** A run that throws is reported here; the next change still runs. */
    private readonly onError: (err: unknown) => void,
    private readonly merge: (older: T, newer: T) => T = (_older, newer) => newer,
  ) {}

  push(item: T): void {
    this.next = this.hasNext ? this.merge(this.next as T, item) : item;
    this.hasNext = true;
    if (!this.running) this.running = this.drain();
  }

  /** Resolves once nothing is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.hasNext) {
        const item = this.next as T;
        this.hasNext = false;
        this.next = undefined;
        try {
          await this.task(item);
        } catch (err) {
          this.onError(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
