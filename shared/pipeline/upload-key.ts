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

/** The tag that keeps two records of one name apart: from the record's identity (key, version, content). */
export const keptTag = (id: string): string => `@${digest(id).slice(0, 10)}`;

/**
 * Where what was understood of a decided upload is kept: its certificates (`.pem`) and its report
 * (`.report.json`), under `<folder>/<partner>/<path>@<tag>`, where the tag comes from the upload's
 * identity (key, version, content), so that two uploads of one name never share a path. A key the
 * inbox layout refuses goes to `rejected/_unsorted/`. Long names keep their start and a hash, so
 * both keys fit S3's 1024 bytes and a file name's 255.
 */
export const keptKeys = (
  upload: UploadKey | undefined,
  rawKey: string,
  folder: 'archive' | 'rejected',
  uploadId: string,
): { readonly certificates: string; readonly report: string } => {
  const tag = keptTag(uploadId);
  // No folder of the layout holds an @ (it becomes %40): only the kept files' names do, so an
  // upload's folder can never take the name of another upload's record (`x.pem@<tag>.pem/…`).
  const segments = upload ? upload.path.split('/') : [];
  const path = [...segments.slice(0, -1).map((d) => d.replaceAll('@', '%40')), segments.at(-1)].join('/');
  const full = upload
    ? `${folder === 'archive' ? KEYS.archive : KEYS.rejected}${upload.partner}/${path}`
    : `${KEYS.rejected}_unsorted/${safeName(rawKey)}`;
  const slash = full.lastIndexOf('/');
  const dir = full.slice(0, slash + 1);
  let name = full.slice(slash + 1);
  // The last segment with its tag and the longer suffix within 255 bytes…
  const nameRoom = 255 - Buffer.byteLength(`${tag}${REPORT}`);
  if (Buffer.byteLength(name) > nameRoom)
    name = `${utf8Prefix(name, nameRoom - 13)}~${digest(name).slice(0, 12)}`;
  // …and the whole key within S3's 1024.
  let base = `${dir}${name}${tag}`;
  const room = MAX_KEY_BYTES - Buffer.byteLength(REPORT);
  if (Buffer.byteLength(base) > room) {
    const tail = `~${digest(base).slice(0, 12)}${tag}`;
    base = `${utf8Prefix(`${dir}${name}`, room - Buffer.byteLength(tail))}${tail}`;
  }
  return { certificates: `${base}.pem`, report: `${base}${REPORT}` };
};
