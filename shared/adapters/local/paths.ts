import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { InputError, UpstreamError } from '../../errors.js';

/**
 * Writes a file atomically: a temporary file renamed into place, so that a reader in another
 * process sees the old content or the new, never a truncated file.
 */
export const writeAtomic = async (path: string, body: Uint8Array | string): Promise<void> => {
  await mkdir(dirname(path), { recursive: true });
  // A short hidden name: the target's own name may already be at the 255-byte limit.
  const tmp = join(dirname(path), `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, body);
  await rename(tmp, path);
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

/**
 * Runs `fn` holding a lock on `dir` across processes (mkdir is atomic): the folder store's
 * compare-and-set and the outbox's check-and-append. A lock left by a crashed process is broken
 * after 15 s.
 */
export const withLock = async <T>(dir: string, fn: () => Promise<T>, name = '.lock'): Promise<T> => {
  await mkdir(dir, { recursive: true });
  const lock = join(dir, name);
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UpstreamError(`locking ${dir}`, { cause: error });
      const since = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt)));
    }
  }
  try {
    return await fn();
  } finally {
    // The lock is an empty folder: rmdir is one system call where rm walks it first.
    await rmdir(lock).catch(() => rm(lock, { recursive: true, force: true }));
  }
};
