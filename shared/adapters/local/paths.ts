import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InputError, UpstreamError } from '../../errors.js';

/**
 * Writes a file atomically: a temporary file renamed into place, so that a reader in another
 * process sees the old content or the new, never a truncated file.
 */
export const writeAtomic = async (path: string, body: Uint8Array | string): Promise<void> => {
  await makeDir(dirname(path));
  // A short hidden name: the target's own name may already be at the 255-byte limit.
  const tmp = join(dirname(path), `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, body);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    // A failure of the file system (full, a folder where the file goes): the caller's step failed.
    throw new UpstreamError(`writing ${path}`, { cause: error });
  }
};

/**
 * Maps an object key to a path below `base`, refusing anything that could leave it: `..`, `.`,
 * empty segments, absolute keys, NUL, and on Windows backslashes (a path separator there; on
 * POSIX a backslash is an ordinary character of a name, and such an upload is judged like any).
 */
export const keyToPath = (base: string, key: string): string => {
  if (key === '' || key.startsWith('/')) throw new InputError(`object key "${key}" must be relative`);
  const segments = key.split('/');
  for (const segment of segments) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      (sep === '\\' && segment.includes('\\')) ||
      segment.includes('\0')
    ) {
      throw new InputError(`object key "${key}" has an empty, ".", ".." or otherwise unsafe segment`);
    }
    if (Buffer.byteLength(segment) > 255)
      throw new InputError(`object key "${key}" has a segment over 255 bytes`);
  }
  return join(base, ...segments);
};

/** The key of a path below `base` (the inverse of keyToPath). */
export const pathToKey = (base: string, path: string): string =>
  // Not by slicing off `base`: `join` normalizes `.`, `./` and `inbox/` out of the paths below it.
  relative(base, path).split(sep).join('/');

const LOCK_STALE_MS = 15_000;
/** The locks this process holds now (by path). */
const heldHere = new Set<string>();
/** A lock file still empty after this long was left by a holder killed as it took the lock. */
const EMPTY_LOCK_MS = 1_000;

/**
 * Whether the lock's holder is a process of this machine that is gone (killed, crashed): its
 * lock can be broken at once. The lock file names its holder, `<pid> <host>`. A holder of
 * another machine (a shared folder), a lock folder left by an earlier trustroll, or a process
 * that exists (a reused pid too) is left to the age rule.
 */
const holderGone = async (lock: string, heldMs: number): Promise<boolean> => {
  const owner = await readFile(lock, 'utf8').catch(() => undefined);
  // Created but never written: the holder died between the two (a live one writes its name in
  // the same call, within microseconds). A folder of an earlier trustroll reads as undefined.
  if (owner === '') return heldMs > EMPTY_LOCK_MS;
  if (owner === undefined) return false;
  const [pid, host] = owner.trim().split(' ');
  if (!pid || !/^\d+$/.test(pid) || host !== hostname()) return false;
  // Our own pid: held by this process only if it took that lock; else it was left by an earlier
  // process that had the same pid (a container restarted: trustroll up is pid 1 again).
  if (Number(pid) === process.pid) return !heldHere.has(lock);
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/**
 * Runs `fn` holding a lock on `dir` across processes: a file created exclusively (`wx`, atomic
 * like mkdir) that names its holder. It guards the folder store's compare-and-set and the
 * outbox's check-and-append. A lock whose holder process is gone (a `kill -9`) is broken at once;
 * any other after 15 s (`staleMs`) without a change. A restarted `trustroll up` waited those 15 s
 * in silence, serving an index a CRL it was taking when killed should already have replaced.
 */
export const withLock = async <T>(
  dir: string,
  fn: () => Promise<T>,
  name = '.lock',
  staleMs = LOCK_STALE_MS,
): Promise<T> => {
  await makeDir(dir);
  const lock = join(dir, name);
  const owner = `${process.pid} ${hostname()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      // Synchronously: create and name in one go, with no turn of the event loop in between, so
      // that an empty lock file can only be one whose holder was killed in those microseconds.
      writeFileSync(lock, owner, { flag: 'wx' });
      heldHere.add(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UpstreamError(`locking ${dir}`, { cause: error });
      const since = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > staleMs) await rm(lock, { recursive: true, force: true });
      else if (attempt % 20 === 19) {
        const before = await stat(lock).catch(() => undefined);
        // Broken only if it is still that lock (another waiter may have broken it and taken a new one).
        if (
          before &&
          (await holderGone(lock, since)) &&
          (await stat(lock).catch(() => undefined))?.ino === before.ino
        )
          await rm(lock, { recursive: true, force: true });
      }
      await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt)));
    }
  }
  try {
    return await fn();
  } finally {
    heldHere.delete(lock);
    await unlink(lock).catch(() => rm(lock, { recursive: true, force: true }));
  }
};

/** Errors of the file system that retrying cannot mend: the path itself is unusable. */
const FOR_GOOD = new Set([
  'ENOENT',
  'ENOTDIR',
  'EEXIST',
  'EACCES',
  'EPERM',
  'EROFS',
  'ELOOP',
  'ENAMETOOLONG',
]);

/** Why `dir` cannot be a folder: an InputError (the path is unusable) or an UpstreamError. */
export const folderError = (dir: string, at: string, error: unknown): Error => {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (!FOR_GOOD.has(code)) return new UpstreamError(`creating the folder ${dir}`, { cause: error });
  const why =
    code === 'ENOTDIR' || code === 'EEXIST'
      ? `${at} is not a folder`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `permission denied at ${at}`
        : code === 'ELOOP'
          ? `${at} is a loop of symbolic links`
          : code === 'ENAMETOOLONG'
            ? 'the path is too long'
            : `${at} cannot hold folders`;
  return new InputError(`cannot create the folder ${dir}: ${why} (${code}); name another folder`, {
    cause: error,
  });
};

/**
 * Creates `dir` and its missing parents, one `mkdir` each. Node's own recursive mkdir retries for
 * ever where a parent exists but takes no folders (`/proc/x`: ENOENT again and again); here every
 * failure that retrying cannot mend is one InputError naming the path, with what is wrong there:
 * a file or a link to nothing on the way, no permission, a file system that holds no folders.
 */
export const makeDir = async (dir: string): Promise<void> => {
  for (const at of (await missingFolders(dir)).reverse()) {
    try {
      await mkdir(at);
    } catch (error) {
      // Made by another process meanwhile: fine when it is a folder.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && (await isDir(at))) continue;
      throw folderError(dir, at, error);
    }
  }
};

const isDir = (path: string): Promise<boolean> =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/**
 * Refuses (InputError) a folder that could not be created: a file or a link to nothing on its
 * path. Creates nothing, so a command can check where it will write before it does anything.
 */
export const checkFolder = async (dir: string): Promise<void> => {
  await missingFolders(dir);
};

/**
 * The folders of `dir`'s path that do not exist yet, deepest first, up to the first that does; an
 * InputError when one on the way cannot become a folder (a file, a link to nothing).
 */
const missingFolders = async (dir: string): Promise<string[]> => {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    let info: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      info = await stat(at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw folderError(dir, at, error);
      // A link to nothing is there (lstat) but leads nowhere (stat): no folder can be made in it.
      if (
        await lstat(at).then(
          (l) => l.isSymbolicLink(),
          () => false,
        )
      )
        throw new InputError(
          `cannot create the folder ${dir}: ${at} is a symbolic link to something that does not exist; name another folder`,
        );
    }
    if (info) {
      if (!info.isDirectory()) throw folderError(dir, at, Object.assign(new Error(), { code: 'ENOTDIR' }));
      return missing;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) return missing;
    at = parent;
  }
};
