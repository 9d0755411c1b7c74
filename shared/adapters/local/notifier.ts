import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Notification, Notifier } from '../../ports.js';

/**
 * Appends each notification as one JSON line to an outbox file, once per id: a re-sent event
 * (a re-driven run) is not written twice.
 */
export class OutboxNotifier implements Notifier {
  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async publish(n: Notification): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const existing = await readFile(this.path, 'utf8').catch(() => '');
    if (existing.includes(`"id":${JSON.stringify(n.id)}`)) return;
    await appendFile(this.path, `${JSON.stringify({ at: this.clock().toISOString(), ...n })}\n`);
  }
}

/** Prints a short, readable line per notification (the full body goes to the outbox). */
export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (text: string) => void) {}

  async publish(n: Notification): Promise<void> {
    const mark =
      n.severity === 'critical' || n.severity === 'error' ? '!!' : n.severity === 'warning' ? ' !' : '  ';
    this.write(`${mark} ${n.severity.toUpperCase().padEnd(8)} ${n.subject}\n`);
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
