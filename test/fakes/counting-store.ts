import type { ObjectStore, ObjectSummary, PutOptions, StoredObject } from '../../shared/ports.js';
import { KEYS } from '../../shared/truststore/state.js';

/** What a key is, for counting: the state document, the truststore object, or anything else. */
export type KeyKind = 'state' | 'truststore' | 'other';

const kindOf = (key: string): KeyKind =>
  key === KEYS.state ? 'state' : key === KEYS.truststore ? 'truststore' : 'other';

export interface Tally {
  reads: number;
  writes: number;
  /** head, list, delete, destroy, copy, versions: requests that move (almost) no bytes. */
  other: number;
  bytesRead: number;
  bytesWritten: number;
}

const zero = (): Tally => ({ reads: 0, writes: 0, other: 0, bytesRead: 0, bytesWritten: 0 });

/**
 * An ObjectStore that passes every call to another and counts them through the port, by kind of
 * key: reads (get) and writes (put) with their bytes, and the other requests. What a run costs in
 * S3 requests and traffic, whatever store it runs on.
 */
export class CountingStore implements ObjectStore {
  tally: Record<KeyKind, Tally> = { state: zero(), truststore: zero(), other: zero() };

  constructor(readonly inner: ObjectStore) {
    const versions = inner.versions?.bind(inner);
    if (versions) {
      this.versions = async (key) => {
        this.tally[kindOf(key)].other++;
        return versions(key);
      };
    }
  }

  reset(): void {
    this.tally = { state: zero(), truststore: zero(), other: zero() };
  }

  /** Bytes read and written over every key. */
  bytesMoved(): number {
    return Object.values(this.tally).reduce((n, t) => n + t.bytesRead + t.bytesWritten, 0);
  }

  async get(key: string, opts?: { readonly version?: string }): Promise<StoredObject> {
    const t = this.tally[kindOf(key)];
    t.reads++;
    const object = await this.inner.get(key, opts);
    t.bytesRead += object.body.length;
    return object;
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions) {
    const t = this.tally[kindOf(key)];
    t.writes++;
    t.bytesWritten += body.length;
    return this.inner.put(key, body, opts);
  }

  async delete(key: string): Promise<void> {
    this.tally[kindOf(key)].other++;
    return this.inner.delete(key);
  }

  async destroy(key: string, opts?: { readonly upTo?: string }): Promise<void> {
    this.tally[kindOf(key)].other++;
    return this.inner.destroy(key, opts);
  }

  async list(prefix: string): Promise<ObjectSummary[]> {
    this.tally.other.other++;
    return this.inner.list(prefix);
  }

  async head(key: string, opts?: { readonly version?: string }) {
    this.tally[kindOf(key)].other++;
    return this.inner.head(key, opts);
  }

  async copy(from: string, to: string): Promise<void> {
    this.tally[kindOf(to)].other++;
    return this.inner.copy(from, to);
  }

  /** Offered only when the wrapped store offers it (callers test for it). */
  readonly versions?: ObjectStore['versions'];
}
