import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Notification, Notifier } from '../../ports.js';
import { printable, safeJson } from '../../text.js';
import { withLock } from './paths.js';

/**
 * Appends each notification as one JSON line to an outbox file, once per id: a re-sent event
 * (a re-driven run, two processes flushing the same alerts) is not written twice. The check and
 * the append hold a lock shared by every process; the ids already written are indexed, and only
 * what other processes appended since is read again.
 */
export class OutboxNotifier implements Notifier {
  private readonly ids = new Set<string>();
  /** How many bytes of the file are indexed. */
  private indexed = 0;
  /** The file indexed (inode): one moved away or deleted (rotated by hand) is indexed anew. */
  private ino: number | undefined;
  /** The last bytes indexed: when they changed, the file was rewritten and is indexed anew. */
  private mark = Buffer.alloc(0);

  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async publish(n: Notification): Promise<void> {
    await withLock(
      dirname(this.path),
      async () => {
        // Opened by path each time, so a file rotated away never swallows what follows; O_APPEND
        // writes at the end whoever wrote last.
        const handle = await open(this.path, 'a+');
        try {
          await this.catchUp(handle);
          if (this.ids.has(n.id)) return;
          const line = Buffer.from(`${safeJson({ at: this.clock().toISOString(), ...n })}\n`);
          await handle.write(line);
          this.ids.add(n.id);
          this.indexed += line.length;
          this.mark = line.subarray(Math.max(0, line.length - 64));
        } finally {
          await handle.close();
        }
      },
      '.outbox.lock',
    );
  }

  /** Indexes the lines appended since the last look (by this process or another). */
  private async catchUp(handle: FileHandle): Promise<void> {
    const { size, ino } = await handle.stat();
    if (size < this.indexed || ino !== this.ino || !(await this.unchanged(handle))) {
      // Truncated, or another file: index it again from the start.
      this.ids.clear();
      this.indexed = 0;
      this.ino = ino;
      this.mark = Buffer.alloc(0);
    }
    if (size === this.indexed) return;
    const tail = Buffer.alloc(size - this.indexed);
    await handle.read(tail, 0, tail.length, this.indexed);
    const complete = tail.lastIndexOf(10) + 1;
    for (const line of tail.subarray(0, complete).toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const id = (JSON.parse(line) as { id?: unknown }).id;
        if (typeof id === 'string') this.ids.add(id);
      } catch {
        // A line written by hand or cut short: not an id.
      }
    }
    this.indexed += complete;
    await this.remember(handle);
  }

  private async unchanged(handle: FileHandle): Promise<boolean> {
    if (this.mark.length === 0) return true;
    const now = Buffer.alloc(this.mark.length);
    await handle.read(now, 0, now.length, this.indexed - now.length);
    return now.equals(this.mark);
  }

  private async remember(handle: FileHandle): Promise<void> {
    this.mark = Buffer.alloc(Math.min(64, this.indexed));
    await handle.read(this.mark, 0, this.mark.length, this.indexed - this.mark.length);
  }
}

/** Prints a short, readable line per notification (the full body goes to the outbox). */
export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (text: string) => void) {}

  async publish(n: Notification): Promise<void> {
    const mark =
      n.severity === 'critical' || n.severity === 'error' ? '!!' : n.severity === 'warning' ? ' !' : '  ';
    this.write(`${mark} ${n.severity.toUpperCase().padEnd(8)} ${printable(n.subject)}\n`);
  }
}

/** Sends to every notifier; fails if any failed (after trying all). */
export class FanoutNotifier implements Notifier {
  constructor(private readonly targets: readonly Notifier[]) {}

  async publish(n: Notification): Promise<void> {
    const results = await Promise.allSettled(this.targets.map((t) => t.publish(n)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}
