import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { KEYS } from '../truststore/state.js';

/** An inbox object: `inbox/<partner>/<path>`. */
export interface UploadKey {
  readonly key: string;
  readonly partner: string;
  /** The path below the partner's folder (`bundle.pem`, `2026/renewal.p7b`). */
  readonly path: string;
}

const PARTNER = /^[\p{L}\p{N}][\p{L}\p{N} ._@+-]{0,62}$/u;

/**
 * Parses an inbox key. Refuses keys that would escape the layout (`..`, absolute, empty
 * segments) or carry no partner folder, with a message saying what to do.
 */
export const parseUploadKey = (key: string): UploadKey => {
  if (!key.startsWith(KEYS.inbox)) throw new InputError(`${key} is not under ${KEYS.inbox}`);
  const segments = key.slice(KEYS.inbox.length).split('/');
  if (segments.length < 2) {
    throw new InputError(`${key}: put files into a partner folder, as ${KEYS.inbox}<partner>/<file>`);
  }
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new InputError(`${key}: empty, "." or ".." path segments are not allowed`);
  }
  const [partner, ...rest] = segments as [string, ...string[]];
  if (!PARTNER.test(partner)) {
    throw new InputError(
      `${key}: partner folder "${partner}" must start with a letter or digit and hold at most 63 letters, digits, spaces or ._@+-`,
    );
  }
  return { key, partner, path: rest.join('/') };
};

/** A key (or the end of one) as one safe file name: anything but letters, digits and ._- becomes _. */
export const safeName = (key: string): string => key.replace(/[^\p{L}\p{N}._-]+/gu, '_').slice(-200);

/** S3 keys are at most 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
const REPORT = '.report.json';

/** The first `max` bytes of `text` at most, never cutting a character in two. */
const utf8Prefix = (text: string, max: number): string =>
  Buffer.from(text)
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, '');

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Where an upload goes once decided, keeping its partner and path. A key too long to take its
 * report beside it (an inbox key near S3's 1024 bytes: archive/ is longer than inbox/) keeps its
 * start and a hash of the whole, so the report can always be written.
 */
export const destinationKey = (upload: UploadKey, folder: 'archive' | 'rejected'): string => {
  const key = `${folder === 'archive' ? KEYS.archive : KEYS.rejected}${upload.partner}/${upload.path}`;
  const room = MAX_KEY_BYTES - Buffer.byteLength(REPORT);
  if (Buffer.byteLength(key) <= room) return key;
  const tail = `~${digest(key).slice(0, 16)}`;
  return `${utf8Prefix(key, room - Buffer.byteLength(tail))}${tail}`;
};

/**
 * The JSON report beside the upload. A file name already near the 255-byte limit of file systems
 * keeps its start and a hash of the whole, so the report can always be written.
 */
export const reportKey = (upload: UploadKey, folder: 'archive' | 'rejected'): string => {
  const key = destinationKey(upload, folder);
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  if (Buffer.byteLength(`${name}${REPORT}`) <= 255) return `${key}${REPORT}`;
  const short = `${utf8Prefix(name, 180)}~${digest(name).slice(0, 12)}`;
  return `${key.slice(0, slash + 1)}${short}${REPORT}`;
};
