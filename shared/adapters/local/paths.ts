import { join, sep } from 'node:path';
import { InputError } from '../../errors.js';

/**
 * Maps an object key to a path below `base`, refusing anything that could leave it: `..`, `.`,
 * empty segments, absolute keys, NUL, and backslashes (a path separator on Windows).
 */
export const keyToPath = (base: string, key: string): string => {
  if (key === '' || key.startsWith('/')) throw new InputError(`object key "${key}" must be relative`);
  const segments = key.split('/');
  for (const segment of segments) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      segment.includes('\\') ||
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
  path
    .slice(base.length + 1)
    .split(sep)
    .join('/');
