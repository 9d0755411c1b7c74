import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import {
  type FileHandle,
  lstat,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { ConflictError, InputError, NotFoundError, UpstreamError } from '../../errors.js';
import type { ObjectStore, ObjectSummary, PutOptions, StoredObject } from '../../ports.js';
import { keyToPath, pathToKey, withLock, writeAtomic } from './paths.js';

const VERSIONS = '.v';
/** In each key's folder: the highest version number written, kept when versions are deleted. */
const HIGH_WATER = '.highest';

interface Meta {
  readonly etag: string;
  readonly metadata: Record<string, string>;
  readonly deleted?: boolean;
}

const etagOf = (body: Uint8Array): string => `"${createHash('md5').update(body).digest('hex')}"`;

/**
 * A folder that behaves like a versioned S3 bucket: every key is a folder `<key>.v/` of numbered
 * versions (`000001`, with `000001.meta.json` written last), deletes add a delete marker, and
 * conditional writes are atomic across processes through a lock folder (mkdir is atomic).
 */
export class VersionedFolderStore implements ObjectStore {
  constructor(readonly root: string) {}

  private dir(key: string): string {
    return `${keyToPath(this.root, key)}${VERSIONS}`;
  }

  private async numbers(dir: string): Promise<number[]> {
    try {
      const names = await readdir(dir);
      return names
        .filter((n) => /^\d{6,}\.meta\.json$/.test(n))
        .map((n) => Number(n.slice(0, n.indexOf('.'))))
        .sort((a, b) => a - b);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw listingError(dir, error);
    }
  }

  /** The highest version number any file in `dir` still carries, whole version or not. */
  private async taken(dir: string): Promise<number> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw listingError(dir, error);
    }
    return Math.max(
      0,
      ...names
        .map((n) => /^(\d{6,})(?:\.meta\.json)?$/.exec(n)?.[1])
        .filter(Boolean)
        .map(Number),
    );
  }

  /** The highest version number ever written in `dir` (0 when none is recorded). */
  private async highWater(dir: string): Promise<number> {
    const text = await readFile(join(dir, HIGH_WATER), 'utf8').catch(() => '0');
    const n = Number(text.trim());
    return Number.isInteger(n) && n > 0 ? n : 0;
  }

  /**
   * The meta of version `n` when the version is whole: its meta file reads, and its body is there
   * (a delete marker has none). A version whose body was deleted by hand, or whose meta no longer
   * parses, is no version at all — as on S3, where a version is there or not.
   */
  private async whole(dir: string, n: number): Promise<Meta | undefined> {
    let meta: unknown;
    try {
      meta = JSON.parse(await readFile(join(dir, `${name(n)}.meta.json`), 'utf8'));
    } catch (error) {
      if (error instanceof SyntaxError || (error as NodeJS.ErrnoException).code === 'ENOENT')
        return undefined;
      throw new UpstreamError(`reading ${dir} version ${name(n)}`, { cause: error });
    }
    if (!isMeta(meta)) return undefined;
    if (meta.deleted) return meta;
    try {
      await stat(join(dir, name(n)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UpstreamError(`reading ${dir} version ${name(n)}`, { cause: error });
    }
    return meta;
  }

  /** The current version of a key: its newest whole version (a delete marker included). */
  private async current(dir: string): Promise<{ n: number; meta: Meta } | undefined> {
    const all = await this.numbers(dir);
    for (let i = all.length - 1; i >= 0; i--) {
      const meta = await this.whole(dir, all[i]!);
      if (meta) return { n: all[i]!, meta };
    }
    return undefined;
  }

  async get(key: string, opts: { version?: string } = {}): Promise<StoredObject> {
    const dir = this.dir(key);
    let found: { n: number; meta: Meta } | undefined;
    if (opts.version === undefined) found = await this.current(dir);
    else {
      const n = (await this.numbers(dir)).find((v) => name(v) === opts.version);
      const meta = n === undefined ? undefined : await this.whole(dir, n);
      found = n === undefined || !meta ? undefined : { n, meta };
    }
    if (!found) throw new NotFoundError(`${key}${opts.version ? ` version ${opts.version}` : ''} not found`);
    if (found.meta.deleted) throw new NotFoundError(`${key} is deleted`);
    let body: Uint8Array;
    try {
      body = new Uint8Array(await readFile(join(dir, name(found.n))));
    } catch (error) {
      // Deleted since it was found whole: gone, like a version deleted on S3.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`${key} version ${name(found.n)} not found`);
      throw new UpstreamError(`reading ${dir} version ${name(found.n)}`, { cause: error });
    }
    return { body, version: name(found.n), etag: found.meta.etag, metadata: found.meta.metadata };
  }

  async put(
    key: string,
    body: Uint8Array,
    opts: PutOptions = {},
  ): Promise<{ version: string; etag: string }> {
    const dir = this.dir(key);
    return this.locked(dir, async () => {
      const current = (await this.current(dir))?.meta;
      // Version ids are never reused: a version deleted by hand leaves its number taken, and so
      // does every id the caller knows of (the state's history, when `.highest` went too).
      const highest = Math.max(
        await this.taken(dir),
        await this.highWater(dir),
        ...(opts.usedVersions ?? []).filter((v) => /^\d{6,}$/.test(v)).map(Number),
      );
      const live = current && !current.deleted ? current : undefined;
      if (opts.ifNoneMatch === '*' && live) throw new ConflictError(`${key} already exists`);
      if (opts.ifMatch !== undefined && live?.etag !== opts.ifMatch) {
        throw new ConflictError(
          `${key} changed since it was read (ETag ${live?.etag ?? 'none'}, expected ${opts.ifMatch})`,
        );
      }
      const n = highest + 1;
      const etag = etagOf(body);
      await writeAtomic(join(dir, name(n)), body);
      await writeAtomic(
        join(dir, `${name(n)}.meta.json`),
        JSON.stringify({ etag, metadata: opts.metadata ?? {} }),
      );
      await writeAtomic(join(dir, HIGH_WATER), String(n));
      return { version: name(n), etag };
    });
  }

  async delete(key: string): Promise<void> {
    const dir = this.dir(key);
    await this.locked(dir, async () => {
      const current = await this.current(dir);
      if (!current || current.meta.deleted) return;
      const n = Math.max(await this.taken(dir), await this.highWater(dir)) + 1;
      await writeAtomic(
        join(dir, `${name(n)}.meta.json`),
        JSON.stringify({ etag: '', metadata: {}, deleted: true }),
      );
      await writeAtomic(join(dir, HIGH_WATER), String(n));
    });
  }

  async destroy(key: string, opts: { upTo?: string } = {}): Promise<void> {
    const dir = this.dir(key);
    await this.locked(dir, async () => {
      const all = await this.numbers(dir);
      const upTo = opts.upTo === undefined ? all.at(-1) : all.find((n) => name(n) === opts.upTo);
      if (upTo === undefined) return;
      // The meta file goes first: a version without it is not a version (see versions()).
      for (const n of all.filter((v) => v <= upTo)) {
        await rm(join(dir, `${name(n)}.meta.json`), { force: true });
        await rm(join(dir, name(n)), { force: true });
      }
    });
  }

  async head(key: string, opts: { version?: string } = {}) {
    const object = await this.get(key, opts);
    return {
      key,
      size: object.body.length,
      etag: object.etag,
      version: object.version,
      metadata: object.metadata,
    };
  }

  async copy(from: string, to: string): Promise<void> {
    const object = await this.get(from);
    await this.put(to, object.body, { metadata: object.metadata });
  }

  async list(prefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    // Each key is a `<key>.v` folder; no need to descend into one.
    await walkTree(
      this.root,
      (name, isDir) => isDir && !name.endsWith(VERSIONS),
      async (path, name, isDir) => {
        if (!isDir || !name.endsWith(VERSIONS)) return;
        const key = pathToKey(this.root, path.slice(0, -VERSIONS.length));
        if (!key.startsWith(prefix)) return;
        try {
          const object = await this.get(key);
          out.push({ key, size: object.body.length, etag: object.etag, version: object.version });
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
        }
      },
    );
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** The folder holding a key's versions: watched by `up` to learn of a write at once. */
  folderOf(key: string): string {
    return this.dir(key);
  }

  /**
   * A token that changes whenever a version of the key is written or deleted, read without
   * reading the object: the highest version number (which every write and delete raises, even
   * two within one tick of the file-system clock), and the folder's identity and modification
   * time (which also tell of versions destroyed). `absent` when the key has no folder.
   */
  async stamp(key: string): Promise<string> {
    const dir = this.dir(key);
    const info = await stat(dir).catch(() => undefined);
    if (!info) return 'absent';
    return `${info.ino}-${info.mtimeMs}-${await this.highWater(dir)}`;
  }

  /** All version ids of a key, oldest first, with delete markers flagged. */
  async versions(key: string): Promise<{ version: string; deleted: boolean }[]> {
    const dir = this.dir(key);
    const out: { version: string; deleted: boolean }[] = [];
    for (const n of await this.numbers(dir)) {
      const meta = await this.whole(dir, n);
      if (meta) out.push({ version: name(n), deleted: meta.deleted === true });
    }
    return out;
  }

  private locked<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    return withLock(dir, fn);
  }
}

/** A file on the path is the caller's to fix (exit 2), not a failure to retry. */
const listingError = (dir: string, error: unknown): Error =>
  (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    ? new InputError(`cannot use ${dir}: a part of that path is a file, not a folder; name another folder`, {
        cause: error,
      })
    : new UpstreamError(`listing ${dir}`, { cause: error });

const name = (n: number): string => String(n).padStart(6, '0');

const isMeta = (value: unknown): value is Meta =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Meta).etag === 'string' &&
  typeof (value as Meta).metadata === 'object' &&
  (value as Meta).metadata !== null;

/**
 * Visits every entry below `dir` (files and folders; a folder that does not exist is empty),
 * descending into the folders `descend` accepts.
 */
const walkTree = async (
  dir: string,
  descend: (name: string, isDir: boolean) => boolean,
  visit: (path: string, name: string, isDir: boolean) => Promise<void>,
  /** Visit links and other non-regular entries too (never descending into them). */
  everyEntry = false,
): Promise<void> => {
  let entries: import('node:fs').Dirent[];
  try {
    // With every entry (a plain folder: people's files), a name that is not UTF-8 is first given
    // one that is, or it could never be named as a key, read or removed.
    if (everyEntry) await renameNonUtf8(dir);
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const isDir = entry.isDirectory();
    if (!isDir && !entry.isFile() && !everyEntry) continue;
    await visit(path, entry.name, isDir);
    if (isDir && descend(entry.name, isDir)) await walkTree(path, descend, visit, everyEntry);
  }
};

/**
 * Renames the entries of `dir` whose names are not valid UTF-8 (bytes from another system's
 * encoding): each byte that is not part of a UTF-8 character is written as `%XX`, and `~2`, `~3`…
 * is added if that name is taken. The entry is then an upload like any other.
 */
const renameNonUtf8 = async (dir: string): Promise<void> => {
  const names = await readdir(dir, { encoding: 'buffer' });
  for (const raw of names) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(raw);
    if (Buffer.from(text).equals(raw)) continue;
    let escaped = '';
    for (let i = 0; i < raw.length; ) {
      const n = utf8Length(raw, i);
      escaped +=
        n > 0
          ? raw.subarray(i, i + n).toString('utf8')
          : `%${raw[i]!.toString(16).toUpperCase().padStart(2, '0')}`;
      i += Math.max(n, 1);
    }
    for (let k = 1; ; k++) {
      const target = join(dir, k === 1 ? escaped : `${escaped}~${k}`);
      if (
        await lstat(target).then(
          () => true,
          () => false,
        )
      )
        continue;
      await rename(Buffer.concat([Buffer.from(`${dir}${sep}`), raw]), target).catch(() => undefined);
      break;
    }
  }
};

/** The length of the valid UTF-8 character at `i`, or 0 when the byte there starts none. */
const utf8Length = (b: Buffer, i: number): number => {
  const c = b[i]!;
  const n =
    c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n <= 1 || i + n > b.length) return n === 1 ? 1 : 0;
  const char = b.subarray(i, i + n);
  return Buffer.from(char.toString('utf8')).equals(char) ? n : 0;
};

/**
 * The version of a file in a plain folder: its modification time and size, and its inode and
 * change time, which no copy tool can set, so a file put back with the same name, size and time
 * (`cp -p`, rsync) is a new version. Anything done to the file (written, renamed, chmod) makes
 * another one.
 */
const plainVersion = (info: { mtimeMs: number; ctimeMs: number; ino: number; size: number }): string =>
  `${Math.trunc(info.mtimeMs)}-${info.size}-${info.ino.toString(36)}${Math.trunc(info.ctimeMs * 1000).toString(36)}`;

/**
 * A plain folder as an object store (the inbox people copy files into, archive/, rejected/):
 * files as they are, no version history. The version id is derived from the file (plainVersion).
 *
 * Links are never followed: a key whose path runs through a symbolic link, or names a link or
 * anything but a regular file, is listed (so it is judged and reported) but cannot be read, and
 * removing it removes the entry itself, never what it points to.
 */
export class PlainFolderStore implements ObjectStore {
  constructor(
    readonly root: string,
    /** Key prefix this folder serves (`inbox/`), stripped before mapping to a path. */
    readonly prefix: string,
  ) {}

  private path(key: string): string {
    if (!key.startsWith(this.prefix)) throw new NotFoundError(`${key} is not under ${this.prefix}`);
    return keyToPath(this.root, key.slice(this.prefix.length));
  }

  /**
   * What the key names, without following a link: a regular file (`file`), something else or a
   * path through a link (`refused`, with why), or nothing (NotFoundError).
   */
  private async entry(key: string): Promise<
    | { kind: 'file'; path: string; size: number; version: string; ino: number; dev: number }
    | {
        kind: 'refused';
        path: string;
        why: string;
        version: string;
        /** The path runs through a link: what it names is outside the folder. */
        through: boolean;
      }
  > {
    const path = this.path(key);
    const segments = key.slice(this.prefix.length).split('/');
    let dir = this.root;
    for (const segment of segments.slice(0, -1)) {
      dir = join(dir, segment);
      const info = await lstat(dir).catch(() => undefined);
      if (!info) throw new NotFoundError(`${key} not found`);
      if (info.isSymbolicLink())
        return {
          kind: 'refused',
          path,
          why: `${dir} is a symbolic link`,
          version: `link-${Math.trunc(info.mtimeMs)}`,
          through: true,
        };
      if (!info.isDirectory()) throw new NotFoundError(`${key} not found`);
    }
    const info = await lstat(path).catch(() => undefined);
    if (!info || info.isDirectory()) throw new NotFoundError(`${key} not found`);
    const version = plainVersion(info);
    if (info.isSymbolicLink())
      return {
        kind: 'refused',
        path,
        why: `${path} is a symbolic link`,
        version: `link-${version}`,
        through: false,
      };
    if (!info.isFile())
      return {
        kind: 'refused',
        path,
        why: `${path} is not a regular file`,
        version: `special-${version}`,
        through: false,
      };
    // A hard link shares its bytes with a name elsewhere: removing this one would not remove them.
    if (info.nlink > 1)
      return {
        kind: 'refused',
        path,
        why: `${path} is a hard link (the file has ${info.nlink} names): copy the file into the inbox instead`,
        version: `linked-${version}`,
        through: false,
      };
    return { kind: 'file', path, size: info.size, version, ino: info.ino, dev: info.dev };
  }

  async get(key: string, opts: { version?: string } = {}): Promise<StoredObject> {
    const found = await this.entry(key);
    if (opts.version !== undefined && opts.version !== found.version)
      throw new NotFoundError(`${key} version ${opts.version} not found`);
    if (found.kind === 'refused') {
      throw new InputError(
        `${found.why}: trustroll reads only regular files, and never follows a link out of its folders`,
      );
    }
    let handle: FileHandle | undefined;
    try {
      // O_NOFOLLOW: a file swapped for a link after the check above is refused, not followed.
      handle = await open(found.path, constants.O_RDONLY | constants.O_NOFOLLOW);
      const info = await handle.stat();
      if (!info.isFile()) throw new InputError(`${found.path} is not a regular file`);
      // The file opened must be the entry checked: a folder on the path swapped for a link in
      // between (O_NOFOLLOW guards the last name only) opens another file.
      if (info.ino !== found.ino || info.dev !== found.dev)
        throw new NotFoundError(`${key} changed while it was opened`);
      await this.assertInside(`/proc/self/fd/${handle.fd}`, found.path, true);
      const version = plainVersion(info);
      if (opts.version !== undefined && opts.version !== version)
        throw new NotFoundError(`${key} version ${opts.version} not found`);
      // Exactly the size the version names: a file still growing is another version (read later).
      const body = Buffer.alloc(info.size);
      for (let at = 0; at < body.length; ) {
        const { bytesRead } = await handle.read(body, at, body.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      if (plainVersion(await handle.stat()) !== version)
        throw new NotFoundError(`${key} changed while it was read: it is read again once it holds still`);
      return { body: new Uint8Array(body), version, etag: etagOf(body), metadata: {} };
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof InputError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')
        throw new NotFoundError(`${key} not found`);
      if (code === 'ELOOP')
        throw new InputError(`${found.path} is a symbolic link: trustroll never follows links`);
      throw new UpstreamError(`reading ${found.path}`, { cause: error });
    } finally {
      await handle?.close();
    }
  }

  async put(
    key: string,
    body: Uint8Array,
    opts: PutOptions = {},
  ): Promise<{ version: string; etag: string }> {
    const path = this.path(key);
    if (opts.ifNoneMatch === '*' || opts.ifMatch !== undefined) {
      const current = await this.get(key).catch(() => undefined);
      if (opts.ifNoneMatch === '*' && current) throw new ConflictError(`${key} already exists`);
      if (opts.ifMatch !== undefined && current?.etag !== opts.ifMatch)
        throw new ConflictError(`${key} changed`);
    }
    await writeAtomic(path, body);
    const info = await stat(path);
    return { version: plainVersion(info), etag: etagOf(body) };
  }

  private rootReal: string | undefined;

  /**
   * Where `probe` really is (an open file through /proc on Linux, or a folder) must be inside this
   * folder: a folder on the path swapped for a link between the checks and the use is refused.
   */
  private async assertInside(probe: string, shown: string, isFd: boolean): Promise<void> {
    this.rootReal ??= await realpath(this.root);
    const real = isFd
      ? await readlink(probe).catch(() => undefined)
      : await realpath(probe).catch(() => undefined);
    // No /proc (macOS): the inode check above stands alone.
    if (real === undefined) {
      if (isFd) return;
      throw new NotFoundError(`${shown} not found`);
    }
    if (real !== this.rootReal && !real.startsWith(`${this.rootReal}${sep}`))
      throw new InputError(
        `${shown} leads out of ${this.root} (a folder on its path was swapped for a link)`,
      );
  }

  /** Removes the entry the key names, a link itself included; never anything a link points to. */
  async delete(key: string): Promise<void> {
    let found: Awaited<ReturnType<PlainFolderStore['entry']>>;
    try {
      found = await this.entry(key);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    // A path through a link names something outside this folder: it is never deleted.
    if (found.kind === 'refused' && found.through)
      throw new InputError(`${found.why}: trustroll does not delete through links`);
    // Checked again just before: a folder on the path swapped for a link since is not followed.
    await this.assertInside(dirname(found.path), found.path, false);
    try {
      await unlink(found.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new UpstreamError(`deleting ${found.path}`, { cause: error });
    }
  }

  /** A plain folder keeps one version: the entry goes when it is still the version named. */
  async destroy(key: string, opts: { upTo?: string } = {}): Promise<void> {
    if (opts.upTo !== undefined) {
      const current = await this.head(key).catch(() => undefined);
      if (current?.version !== opts.upTo) return;
    }
    await this.delete(key);
  }

  /** Size and version; a link or other non-regular entry is listed with a version of its own. */
  async head(key: string, opts: { version?: string } = {}) {
    const found = await this.entry(key);
    if (opts.version !== undefined && opts.version !== found.version)
      throw new NotFoundError(`${key} version ${opts.version} not found`);
    return { key, size: found.kind === 'file' ? found.size : 0, etag: '', version: found.version };
  }

  async copy(from: string, to: string): Promise<void> {
    const object = await this.get(from);
    await this.put(to, object.body);
  }

  async list(prefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    // Hidden files are editors' and copy tools' temporaries, not uploads.
    const visible = (name: string) => !name.startsWith('.') && !name.endsWith('.tmp');
    await walkTree(
      this.root,
      (name, isDir) => isDir && visible(name),
      async (path, name, isDir) => {
        if (isDir || !visible(name)) return;
        const key = `${this.prefix}${pathToKey(this.root, path)}`;
        if (!key.startsWith(prefix)) return;
        const summary = await this.head(key).catch(() => undefined);
        if (summary) out.push(summary);
      },
      // Links (to files or folders) and other entries are listed, to be refused with a report.
      true,
    );
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }
}

/** Routes keys to stores by prefix; keys matching no prefix go to the fallback store. */
export class RoutingStore implements ObjectStore {
  constructor(
    private readonly routes: readonly { readonly prefix: string; readonly store: ObjectStore }[],
    private readonly fallback: ObjectStore,
  ) {}

  private pick(key: string): ObjectStore {
    return this.routes.find((r) => key.startsWith(r.prefix))?.store ?? this.fallback;
  }

  get(key: string, opts?: { version?: string }) {
    return this.pick(key).get(key, opts);
  }
  put(key: string, body: Uint8Array, opts?: PutOptions) {
    return this.pick(key).put(key, body, opts);
  }
  delete(key: string) {
    return this.pick(key).delete(key);
  }
  destroy(key: string, opts?: { upTo?: string }) {
    return this.pick(key).destroy(key, opts);
  }
  list(prefix: string) {
    return this.pick(prefix).list(prefix);
  }
  head(key: string, opts?: { version?: string }) {
    return this.pick(key).head(key, opts);
  }
  async versions(key: string): Promise<{ version: string; deleted: boolean }[]> {
    const store = this.pick(key);
    if (!store.versions) throw new InputError(`${key} is kept in a folder that keeps no versions`);
    return store.versions(key);
  }
  async copy(from: string, to: string): Promise<void> {
    const source = this.pick(from);
    const target = this.pick(to);
    if (source === target) return source.copy(from, to);
    const object = await source.get(from);
    await target.put(to, object.body);
  }
}
