import { type FSWatcher, watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Starts watching one folder (not below it): `onEvent` on any change of its entries, `rename`
 * when one may have appeared or gone, `change` when one was written to.
 */
export type WatchFolder = (dir: string, onEvent: (type: string) => void) => FSWatcher;

const watchFolder: WatchFolder = (dir, onEvent) => watch(dir, { persistent: false }, (type) => onEvent(type));

export interface FolderWatchOptions {
  /** Watch the folders below the root too (the inbox: `<partner>/`, `<partner>/replace/`). */
  readonly deep?: boolean;
  /** Which sub-folders to watch (default: not hidden ones, which are never listed either). */
  readonly descend?: (name: string) => boolean;
  /** How to watch one folder (tests replace it). */
  readonly watch?: WatchFolder;
}

/**
 * File-system events for a folder tree: one non-recursive watch per folder (recursive watching is
 * not available on every platform, and Node 20 emulates it on Linux), links never followed.
 * Events only say "look again": they can be missed (a full event queue, a network file system),
 * so the caller keeps polling, slowly while `active`, at its usual pace while not (no such
 * folder yet, no watches left, a platform without events). `sync()` takes in new sub-folders and
 * tries again after a failure.
 */
export class FolderWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private failed = false;
  /** A sub-folder may have appeared or gone since the last sync. */
  private stale = true;

  constructor(
    readonly root: string,
    private readonly onChange: () => void,
    private readonly options: FolderWatchOptions = {},
  ) {}

  /** Every folder of the tree is watched, as of the last sync. */
  get active(): boolean {
    return !this.failed && !this.stale && this.watchers.has(this.root);
  }

  /** Watches the folders of the tree not watched yet and lets go of those gone. Never throws. */
  async sync(): Promise<void> {
    if (!this.stale && !this.failed) return;
    this.stale = false;
    this.failed = false;
    const found = new Set<string>();
    const visit = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      found.add(dir);
      if (!this.watchers.has(dir)) this.add(dir);
      if (!this.options.deep) return;
      const descend = this.options.descend ?? ((name: string) => !name.startsWith('.'));
      for (const entry of entries)
        if (entry.isDirectory() && descend(entry.name)) await visit(join(dir, entry.name));
    };
    await visit(this.root);
    for (const [dir, watcher] of this.watchers) {
      if (found.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private add(dir: string): void {
    let watcher: FSWatcher;
    try {
      watcher = (this.options.watch ?? watchFolder)(dir, (type) => {
        // A new or removed entry may be a folder: the next sync looks.
        if (type !== 'change') this.stale = true;
        this.onChange();
      });
    } catch {
      this.failed = true;
      return;
    }
    watcher.on('error', () => {
      watcher.close();
      if (this.watchers.get(dir) === watcher) this.watchers.delete(dir);
      this.failed = true;
      this.onChange();
    });
    this.watchers.set(dir, watcher);
  }
}
