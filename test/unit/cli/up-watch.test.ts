import { EventEmitter } from 'node:events';
import type { FSWatcher } from 'node:fs';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InboxWatcher, StepLoop } from '../../../cli/commands/up-watch.js';
import { PlainFolderStore } from '../../../shared/adapters/local/folder-store.js';
import type { WatchFolder } from '../../../shared/adapters/local/folder-watch.js';

/**
 * The inbox watching of `trustroll up`, on a real folder: file-system events say when to look,
 * a slow poll finds what events missed, and a file is judged only once it held still.
 */
const running: StepLoop[] = [];
afterEach(async () => {
  for (const loop of running.splice(0)) await loop.stop();
});

interface Batch {
  readonly keys: string[];
  /** Each key's content as the batch read it. */
  readonly bodies: Map<string, string>;
}

const watchInbox = (
  opts: { debounceMs?: number; pollMs?: number; watch?: WatchFolder; missing?: boolean } = {},
) => {
  const parent = mkdtempSync(join(tmpdir(), 'trustroll-watch-'));
  const folder = opts.missing ? join(parent, 'inbox') : parent;
  const store = new PlainFolderStore(folder, 'inbox/');
  const batches: Batch[] = [];
  const watcher = new InboxWatcher('inbox', {
    list: () => store.list('inbox/'),
    folder,
    debounceMs: opts.debounceMs ?? 100,
    pollMs: opts.pollMs ?? 60_000,
    wake: () => stepLoop.wake(),
    ...(opts.watch ? { watch: opts.watch } : {}),
    onBatch: async (keys) => {
      const bodies = new Map<string, string>();
      for (const key of keys) bodies.set(key, Buffer.from((await store.get(key)).body).toString('utf8'));
      batches.push({ keys, bodies });
      // Judged uploads leave the inbox, as ingest destroys them.
      for (const key of keys) await store.delete(key);
    },
  });
  const stepLoop = new StepLoop([watcher], (step, error) => {
    throw new Error(`${step}: ${error.message}`);
  });
  running.push(stepLoop);
  stepLoop.start();
  return { folder, batches };
};

const until = async (probe: () => boolean, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the inbox watcher of trustroll up', () => {
  it('picks up a file renamed into a partner folder created after it started, with no poll due', async () => {
    // The poll would come only after a minute: only an event can bring the file in time.
    const { folder, batches } = watchInbox({ pollMs: 60_000 });
    await sleep(100);
    mkdirSync(join(folder, 'acme'));
    await sleep(100);
    writeFileSync(join(folder, 'acme', '.ca.pem.tmp'), 'the whole bundle');
    renameSync(join(folder, 'acme', '.ca.pem.tmp'), join(folder, 'acme', 'ca.pem'));
    await until(() => batches.length > 0);
    expect(batches).toEqual([
      { keys: ['inbox/acme/ca.pem'], bodies: new Map([['inbox/acme/ca.pem', 'the whole bundle']]) },
    ]);
  });

  it('does not take a file still being written: one batch, with the whole file, after the writer stops', async () => {
    const { folder, batches } = watchInbox({ debounceMs: 500, pollMs: 60_000 });
    await sleep(100);
    const file = join(folder, 'upload.pem');
    writeFileSync(file, 'part 0;');
    // Written a piece every 30 ms for about a second: never still for 500 ms (the debounce) until the end.
    let whole = 'part 0;';
    for (let i = 1; i <= 30; i++) {
      await sleep(30);
      appendFileSync(file, `part ${i};`);
      whole += `part ${i};`;
      expect(batches).toEqual([]);
    }
    await until(() => batches.length > 0);
    await sleep(300);
    expect(batches).toEqual([{ keys: ['inbox/upload.pem'], bodies: new Map([['inbox/upload.pem', whole]]) }]);
  });

  it('finds a file whose events were missed, by its fallback poll', async () => {
    // Watches that never report anything, as when the event queue overflowed.
    const deaf: WatchFolder = () =>
      Object.assign(new EventEmitter(), { close: () => undefined }) as unknown as FSWatcher;
    const { folder, batches } = watchInbox({ pollMs: 20, watch: deaf });
    await sleep(100);
    writeFileSync(join(folder, 'missed.pem'), 'no event for this one');
    await until(() => batches.length > 0);
    expect(batches.map((b) => b.keys)).toEqual([['inbox/missed.pem']]);
  });

  it('polls at its usual pace where the folder cannot be watched (it does not exist yet)', async () => {
    const { folder, batches } = watchInbox({ pollMs: 20, missing: true });
    await sleep(100);
    mkdirSync(join(folder, 'acme'), { recursive: true });
    writeFileSync(join(folder, 'acme', 'ca.pem'), 'x');
    await until(() => batches.length > 0);
    expect(batches.map((b) => b.keys)).toEqual([['inbox/acme/ca.pem']]);
  });
});
