import { FolderWatch, type WatchFolder } from '../../shared/adapters/local/folder-watch.js';
import type { ObjectSummary } from '../../shared/ports.js';

/** After an event, the look waits this long so that one write's several events make one look. */
export const EVENT_DELAY_MS = 20;
/** A file is taken once it held still this long at least, whatever `--debounce-ms` says. */
export const MIN_SETTLE_MS = 50;
/** With events, a full look every this many polls anyway: events can be missed. */
const FALLBACK_POLLS = 20;

/** When `up` looks without an event: every `pollMs`, or 20 times as seldom while events arrive. */
export const fallbackMs = (pollMs: number, watching: boolean): number =>
  watching ? Math.min(60_000, Math.max(pollMs, pollMs * FALLBACK_POLLS)) : pollMs;

/** One step of `up`'s loop: run when due, and say when it is due next. */
export interface Step {
  readonly name: string;
  /** The moment (ms since the epoch) this step wants to run; `now` or earlier: at once. */
  due(now: number): number;
  run(now: number): Promise<void>;
  /** Lets go of its watches. */
  close?(): void;
}

export interface InboxWatcherOptions {
  /** Lists the uploads (the store's inbox or requests prefix). */
  readonly list: () => Promise<readonly ObjectSummary[]>;
  /** The folder those uploads are in, watched for events. */
  readonly folder: string;
  readonly debounceMs: number;
  readonly pollMs: number;
  /** Judges a batch of keys (new or changed since the last batch). */
  readonly onBatch: (keys: string[]) => Promise<void>;
  /** Asks the loop to run soon (an event arrived). */
  readonly wake: () => void;
  readonly watch?: WatchFolder;
}

/**
 * Watches an inbox folder: file-system events say when to look, and a slow poll stays as the
 * fallback for events missed (and the usual poll where there are none). A file is taken once its
 * size, times and inode held still for `debounceMs` (at least MIN_SETTLE_MS) between two looks —
 * a file still being written changes between them and waits — and a batch is cut only when no
 * file of the inbox changed for that long, so a burst of copies becomes one batch and one roll.
 */
export class InboxWatcher implements Step {
  private seen = new Map<string, string>();
  private handled = new Map<string, string>();
  private lastChange = 0;
  private lastLook = 0;
  /** An event arrived since the last look. */
  private dirty = true;
  /** When the latest event arrived. */
  private eventAt = 0;
  /** Files not judged yet wait until this moment for the inbox to hold still. */
  private settleAt = Number.POSITIVE_INFINITY;
  private readonly backoff = new Backoff();
  private readonly folder: FolderWatch;

  constructor(
    readonly name: string,
    private readonly options: InboxWatcherOptions,
  ) {
    this.folder = new FolderWatch(
      options.folder,
      () => {
        this.dirty = true;
        this.eventAt = Date.now();
        options.wake();
      },
      { deep: true, ...(options.watch ? { watch: options.watch } : {}) },
    );
  }

  private get settleMs(): number {
    return Math.max(this.options.debounceMs, MIN_SETTLE_MS);
  }

  due(): number {
    const fallback = this.lastLook + fallbackMs(this.options.pollMs, this.folder.active);
    return Math.max(this.backoff.retryAt, Math.min(this.dirty ? 0 : fallback, this.settleAt));
  }

  async run(now: number): Promise<void> {
    if (now < this.due()) return;
    this.dirty = false;
    const lookedBefore = this.lastLook;
    this.lastLook = now;
    // Watches first, then the listing: a file written after the listing is an event.
    await this.folder.sync();
    const listed = await this.options.list();
    const current = new Map(listed.map((o) => [o.key, `${o.size}:${o.version}`]));
    let changed = current.size !== this.seen.size;
    for (const [key, sig] of current) if (this.seen.get(key) !== sig) changed = true;
    this.seen = current;
    // The change happened at the latest event, when one came since the last look: a write after
    // it would have sent another (and been looked at again); else (a poll found it) by now.
    if (changed) this.lastChange = this.eventAt > lookedBefore ? this.eventAt : now;
    // Files handled before and unchanged since (an upload waiting for its issuer stays in the
    // inbox) do not start a batch; ingest judges them again with the next new file anyway.
    const fresh = [...current].filter(([key, sig]) => this.handled.get(key) !== sig).map(([key]) => key);
    this.settleAt = Number.POSITIVE_INFINITY;
    if (fresh.length === 0) return;
    if (changed || now - this.lastChange < this.settleMs) {
      this.settleAt = this.lastChange + this.settleMs;
      return;
    }
    try {
      await this.options.onBatch(fresh);
    } catch (error) {
      this.backoff.failed();
      // Looked at again once the backoff allows: the files are still fresh.
      this.settleAt = this.backoff.retryAt;
      throw error;
    }
    this.backoff.succeeded();
    this.handled = current;
  }

  close(): void {
    this.folder.close();
  }
}

/** After a failure the next attempt waits 1 s, doubling to a minute; a success resets it. */
export class Backoff {
  retryAt = 0;
  private failures = 0;
  due(): boolean {
    return Date.now() >= this.retryAt;
  }
  get failing(): boolean {
    return this.failures > 0;
  }
  failed(): void {
    this.failures++;
    this.retryAt = Date.now() + Math.min(60_000, 1_000 * 2 ** (this.failures - 1));
  }
  succeeded(): void {
    this.failures = 0;
    this.retryAt = 0;
  }
}

/**
 * Runs the steps one at a time, each when it is due, and sleeps until the next is due or `wake`
 * is called (an event): nothing runs while nothing changed. `stop` waits for the running step.
 */
export class StepLoop {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly steps: readonly Step[],
    private readonly onError: (step: string, error: Error) => void,
  ) {}

  start(): void {
    this.schedule(Date.now());
  }

  /** Something changed: run the due steps shortly (events of one write come together). */
  readonly wake = (): void => {
    this.schedule(Date.now() + EVENT_DELAY_MS);
  };

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    for (const step of this.steps) step.close?.();
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    // A pass running schedules the next one when it ends, from what is due then.
    if (this.running) return;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.pass(), Math.max(0, at - Date.now()));
  }

  private async pass(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    let done!: () => void;
    this.running = new Promise((resolve) => (done = resolve));
    try {
      // Each step on its own: one that fails (a disk error in the inbox) does not keep the
      // others, the endpoint's reconciliation among them, from running.
      for (const step of this.steps) {
        if (this.stopped) break;
        const now = Date.now();
        if (step.due(now) > now) continue;
        try {
          await step.run(now);
        } catch (error) {
          this.onError(step.name, error as Error);
        }
      }
    } finally {
      this.running = undefined;
      done();
    }
    const now = Date.now();
    this.schedule(Math.max(now, Math.min(...this.steps.map((s) => s.due(now)))));
  }
}
