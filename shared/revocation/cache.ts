import { createHash } from 'node:crypto';
import { NotFoundError } from '../errors.js';
import { type Certificate, parseCertificate, pemToDer } from '../pki/certificate.js';
import type { Clock, Log, ObjectStore } from '../ports.js';
import { olderIndex, RevocationIndex } from './index.js';
import { REVOCATION_KEYS } from './state.js';

/**
 * What a long-lived decider (the Lambda authorizer, a warm container serving thousands of
 * requests) keeps between requests: the published revocation index, checked for a new version
 * at most every `refreshMs` (one HEAD), read again only when its version changed; and the
 * client certificates it has parsed, by PEM. No request waits for S3 unless a check is due.
 */

export interface IndexCacheOptions {
  /** How often the index's version is checked (a HEAD). */
  readonly refreshMs: number;
  /**
   * How long the last index read stays in use while checks fail (S3 unreachable, the index gone
   * or unreadable); past it, the index counts as unavailable.
   */
  readonly maxAgeMs: number;
  /** How soon a failed check is tried again (never more often than this). Default min(refreshMs, 5 s). */
  readonly retryMs?: number;
}

export interface CachedIndex {
  readonly index: RevocationIndex;
  readonly version: string;
  /** The SHA-256 it was published with (its metadata), when it carried one. */
  readonly sha256?: string;
  /** When the store last confirmed this is the current version. */
  readonly confirmedAt: Date;
}

/** The index to decide with, or why there is none. */
export type IndexLookup =
  | ({ readonly ok: true; readonly stale: boolean } & CachedIndex)
  | { readonly ok: false; readonly reason: string };

export interface IndexCacheDeps {
  readonly store: Pick<ObjectStore, 'get' | 'head'>;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Log;
}

/**
 * The published revocation index, kept warm. `current()` answers from memory until a check is
 * due; then it HEADs `revocation/index.trx` and GETs that exact version only when the version
 * differs from the one held (so a publish between the HEAD and the GET cannot mix versions).
 * Steps of a check:
 * 1. HEAD the index key; same version (and the same SHA-256 in its metadata: a local store whose
 *    version folder was deleted by hand numbers its versions from 000001 again) → confirmed,
 *    nothing read.
 * 2. A new version → GET it by version id, check its SHA-256 against the `sha256` metadata the
 *    pipeline wrote, load it (header parsed, tables kept as one buffer), swap it in.
 * 3. Any failure → logged; the index held stays in use until `maxAgeMs` after it was last
 *    confirmed, then `current()` reports it unavailable (the caller applies its failure mode).
 * Concurrent callers share one check.
 */
export class IndexCache {
  private held: CachedIndex | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private lastFailure: string | undefined;
  private checking: Promise<void> | undefined;
  private readonly retryMs: number;

  constructor(
    private readonly deps: IndexCacheDeps,
    private readonly options: IndexCacheOptions,
  ) {
    this.retryMs = options.retryMs ?? Math.min(options.refreshMs, 5_000);
  }

  /** The index to decide with now (checking the store first when a check is due). */
  async current(): Promise<IndexLookup> {
    const now = this.deps.clock.now().getTime();
    const wait = this.lastFailure === undefined ? this.options.refreshMs : this.retryMs;
    if (!this.checking && now - this.checkedAt >= wait) {
      this.checking = this.check().finally(() => {
        this.checking = undefined;
      });
    }
    // A check under way (started by this caller or another) is awaited: its answer is the newest.
    if (this.checking) await this.checking;
    return this.lookup();
  }

  private lookup(): IndexLookup {
    const now = this.deps.clock.now().getTime();
    const held = this.held;
    if (!held) return { ok: false, reason: this.lastFailure ?? 'the revocation index was not read yet' };
    const age = now - held.confirmedAt.getTime();
    if (age > this.options.maxAgeMs)
      return {
        ok: false,
        reason: `the revocation index held (version ${held.version}) was last confirmed ${Math.round(age / 1000)} s ago, past the ${Math.round(this.options.maxAgeMs / 1000)} s it may be used while checks fail: ${this.lastFailure ?? 'no check succeeded'}`,
      };
    return { ok: true, stale: this.lastFailure !== undefined, ...held };
  }

  private async check(): Promise<void> {
    const { store, clock, log } = this.deps;
    const started = clock.now();
    this.checkedAt = started.getTime();
    try {
      const head = await store.head(REVOCATION_KEYS.index);
      const sameSha = head.metadata?.sha256 === undefined || head.metadata.sha256 === this.held?.sha256;
      if (this.held && head.version === this.held.version && sameSha) {
        this.held = { ...this.held, confirmedAt: started };
      } else {
        const object = await store.get(REVOCATION_KEYS.index, { version: head.version });
        const expected = object.metadata.sha256 ?? head.metadata?.sha256;
        if (expected !== undefined) {
          const actual = createHash('sha256').update(object.body).digest('hex');
          if (actual !== expected)
            throw new Error(
              `version ${head.version} does not hold what was published (SHA-256 ${actual}, metadata says ${expected})`,
            );
        }
        const index = RevocationIndex.load(object.body);
        // Never back to an older index (its newer versions deleted): a failed check, the one
        // held stays in force until its max age.
        if (this.held && olderIndex(index.header, this.held.index.header))
          throw new Error(
            `version ${head.version} was built from an older state (revision ${index.header.revision}, generation ${index.header.generation ?? '?'}) than the index held (${this.held.version}): the newer versions were deleted; trustroll repair publishes the index again`,
          );
        const previous = this.held?.version;
        this.held = {
          index,
          version: object.version,
          ...(expected !== undefined ? { sha256: expected } : {}),
          confirmedAt: started,
        };
        log.info('revocation index loaded', {
          version: object.version,
          ...(previous ? { previous } : {}),
          revision: index.header.revision,
          revoked: index.header.revoked,
          cas: index.header.cas.length,
          bytes: object.body.length,
        });
      }
      if (this.lastFailure !== undefined) log.info('revocation index readable again', {});
      this.lastFailure = undefined;
    } catch (error) {
      const reason = describeFailure(error);
      this.lastFailure = reason;
      log.warn('revocation index check failed', {
        reason,
        ...(this.held
          ? {
              keeping: this.held.version,
              confirmedAt: this.held.confirmedAt.toISOString(),
              usableUntil: new Date(this.held.confirmedAt.getTime() + this.options.maxAgeMs).toISOString(),
            }
          : { held: 'none' }),
      });
    }
  }
}

const describeFailure = (error: unknown): string => {
  if (error instanceof NotFoundError)
    return `no revocation index at ${REVOCATION_KEYS.index} (none published yet: run the pipeline once)`;
  const e = error as { message?: string; cause?: { $metadata?: { httpStatusCode?: number } } };
  if (e.cause?.$metadata?.httpStatusCode === 403)
    return `${REVOCATION_KEYS.index} is missing or not readable (403: S3 answers 403 for a missing object to a role that may not list the bucket): ${e.message}`;
  return `the revocation index cannot be read: ${e.message ?? String(error)}`;
};

/**
 * Parsed client certificates by PEM text, least recently used dropped first: the same client
 * calls many times, and parsing (DER walk, SHA-256 fingerprint) is most of a warm decision's cost.
 */
export class CertificateCache {
  private readonly entries = new Map<string, Certificate>();

  constructor(private readonly capacity = 256) {}

  /** The certificate of `pem`; throws when the PEM holds no readable certificate. */
  get(pem: string): Certificate {
    const hit = this.entries.get(pem);
    if (hit) {
      // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
      this.entries.delete(pem);
      this.entries.set(pem, hit);
      return hit;
    }
    const cert = parseCertificate(pemToDer(pem));
    this.entries.set(pem, cert);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return cert;
  }

  get size(): number {
    return this.entries.size;
  }
}
