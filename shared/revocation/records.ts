import { createHash } from 'node:crypto';

/**
 * Revoked serial numbers as fixed-size binary records, sorted, so that a set of 1,000,000 is one
 * 22 MB buffer searched in place (20 comparisons) instead of a million strings on the heap.
 *
 * A record is 22 bytes: the serial's length (1 byte; 255 for a serial longer than 20 bytes), the
 * serial right-aligned in 20 bytes (a longer one, which RFC 5280 forbids but some CAs issue: the
 * first 20 bytes of its SHA-256), then the revocation reason (1 byte). The first 21 bytes are the
 * key: (length, value) orders every serial exactly once, so lookups are exact, never a hash match.
 */
export const RECORD = 22;
const KEY = 21;
const LONG = 255;

/** CRLReason (RFC 5280 §5.3.1) by code; 11 and 12 are trustroll's own. */
export const REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
/** A manual revocation (`trustroll revoke`): its reason text is in the index header. */
export const MANUAL = 11;
/** Listed on a CRL without a reason code. */
export const NO_REASON = 12;

export const reasonCode = (reason: string | undefined): number => {
  if (reason === undefined) return NO_REASON;
  const code = REASONS.indexOf(reason as (typeof REASONS)[number]);
  return code < 0 ? NO_REASON : code;
};

export const reasonName = (code: number): string | undefined =>
  code === MANUAL ? 'manual' : code === NO_REASON ? undefined : REASONS[code];

const HEX = /^(?:[0-9a-f]{2})+$/;

/** The 21-byte key of a serial (lowercase hex of the DER INTEGER content, as `Certificate.serial`). */
export const serialKey = (serial: string): Buffer => {
  if (!HEX.test(serial))
    throw new Error(`serial ${JSON.stringify(serial)} is not lowercase hex of whole bytes`);
  const key = Buffer.alloc(KEY);
  let bytes = Buffer.from(serial, 'hex');
  if (bytes.length > 20) {
    key[0] = LONG;
    bytes = createHash('sha256').update(bytes).digest().subarray(0, 20);
  } else key[0] = bytes.length;
  bytes.copy(key, KEY - bytes.length);
  return key;
};

/** Records for `serials` (any order, repeats allowed: the first reason of a serial wins), sorted. */
export const toRecords = (
  serials: Iterable<{ readonly serial: string; readonly reason: number }>,
): Buffer => {
  const keyed: Buffer[] = [];
  for (const s of serials) {
    const r = Buffer.alloc(RECORD);
    serialKey(s.serial).copy(r);
    r[KEY] = s.reason;
    keyed.push(r);
  }
  return sortRecords(keyed);
};

const sortRecords = (records: Buffer[]): Buffer => {
  // A stable sort keeps the first of equal keys first, so dropping later equals keeps it.
  records.sort((a, b) => a.compare(b, 0, KEY, 0, KEY));
  const out: Buffer[] = [];
  for (const r of records) {
    const last = out.at(-1);
    if (last?.compare(r, 0, KEY, 0, KEY) !== 0) out.push(r);
  }
  return Buffer.concat(out, out.length * RECORD);
};

/** The union of several record sets (each sorted); for a serial in several, the first set's reason. */
export const mergeRecords = (sets: readonly Uint8Array[]): Buffer => {
  const all: Buffer[] = [];
  for (const set of sets) {
    assertRecords(set);
    const b = Buffer.from(set.buffer, set.byteOffset, set.byteLength);
    for (let i = 0; i < b.length; i += RECORD) all.push(b.subarray(i, i + RECORD));
  }
  return sortRecords(all);
};

export const assertRecords = (set: Uint8Array): void => {
  if (set.length % RECORD !== 0)
    throw new Error(`a record set is a multiple of ${RECORD} bytes, not ${set.length}`);
};

/**
 * The reason code of `serial` in the sorted records `table` (`count` records from `offset`), or
 * undefined when it is not there.
 */
export const findSerial = (table: Buffer, offset: number, count: number, key: Buffer): number | undefined => {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = offset + mid * RECORD;
    const c = table.compare(key, 0, KEY, at, at + KEY);
    if (c === 0) return table[at + KEY];
    // c > 0: the record sorts after the key.
    if (c > 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return undefined;
};
