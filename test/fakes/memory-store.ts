import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import type { ObjectStore, ObjectSummary, PutOptions, StoredObject } from '../../shared/ports.js';

const md5Etag = (body: Uint8Array): string => `"${createHash('md5').update(body).digest('hex')}"`;

interface Version {
  readonly version: string;
  readonly body: Uint8Array | null;
  readonly etag: string;
  readonly metadata: Record<string, string>;
}

/** In-memory ObjectStore with S3 semantics: versions, delete markers, conditional writes. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Version[]>();
  private counter = 0;

  /**
   * `etagOf` makes each version's ETag (default: MD5 of the body, as S3 without KMS). Benchmarks
   * give a cheap one: S3 computes ETags on its side, so hashing here is not the caller's cost.
   */
  constructor(private readonly etagOf: (body: Uint8Array) => string = md5Etag) {}
  /** Called before each operation; tests use it to inject faults or interleavings. */
  beforeOp: (
    op: 'get' | 'put' | 'delete' | 'destroy' | 'list' | 'head' | 'copy',
    key: string,
  ) => void | Promise<void> = () => {};

  async get(key: string, opts: { version?: string } = {}): Promise<StoredObject> {
    await this.beforeOp('get', key);
    const versions = this.objects.get(key) ?? [];
    const v = opts.version ? versions.find((x) => x.version === opts.version) : versions.at(-1);
    if (!v?.body) throw new NotFoundError(`${key}${opts.version ? `@${opts.version}` : ''} not found`);
    return { body: v.body, version: v.version, etag: v.etag, metadata: v.metadata };
  }

  async put(key: string, body: Uint8Array, opts: PutOptions = {}) {
    await this.beforeOp('put', key);
    const current = this.objects.get(key)?.at(-1);
    const live = current?.body ? current : undefined;
    if (opts.ifNoneMatch === '*' && live) throw new ConflictError(`${key} exists`);
    if (opts.ifMatch !== undefined && live?.etag !== opts.ifMatch) throw new ConflictError(`${key} changed`);
    const etag = this.etagOf(body);
    const version = `v${++this.counter}`;
    const list = this.objects.get(key) ?? [];
    list.push({ version, body: new Uint8Array(body), etag, metadata: { ...(opts.metadata ?? {}) } });
    this.objects.set(key, list);
    return { version, etag };
  }

  async delete(key: string): Promise<void> {
    await this.beforeOp('delete', key);
    const list = this.objects.get(key);
    if (!list?.at(-1)?.body) return;
    list.push({ version: `v${++this.counter}`, body: null, etag: '', metadata: {} });
  }

  async destroy(key: string, opts: { upTo?: string } = {}): Promise<void> {
    await this.beforeOp('destroy', key);
    const list = this.objects.get(key) ?? [];
    const at = opts.upTo === undefined ? list.length - 1 : list.findIndex((v) => v.version === opts.upTo);
    if (at < 0) return;
    const kept = list.slice(at + 1);
    if (kept.length > 0) this.objects.set(key, kept);
    else this.objects.delete(key);
  }

  async head(key: string, opts: { version?: string } = {}) {
    await this.beforeOp('head', key);
    const versions = this.objects.get(key) ?? [];
    const v = opts.version ? versions.find((x) => x.version === opts.version) : versions.at(-1);
    if (!v?.body) throw new NotFoundError(`${key}${opts.version ? `@${opts.version}` : ''} not found`);
    return { key, size: v.body.length, etag: v.etag, version: v.version, metadata: v.metadata };
  }

  async copy(from: string, to: string): Promise<void> {
    await this.beforeOp('copy', from);
    const v = this.objects.get(from)?.at(-1);
    if (!v?.body) throw new NotFoundError(`${from} not found`);
    const list = this.objects.get(to) ?? [];
    list.push({ ...v, version: `v${++this.counter}` });
    this.objects.set(to, list);
  }

  async list(prefix: string): Promise<ObjectSummary[]> {
    await this.beforeOp('list', prefix);
    const out: ObjectSummary[] = [];
    for (const [key, versions] of this.objects) {
      const v = versions.at(-1);
      if (key.startsWith(prefix) && v?.body)
        out.push({ key, size: v.body.length, etag: v.etag, version: v.version });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async versions(key: string): Promise<{ version: string; deleted: boolean }[]> {
    return (this.objects.get(key) ?? []).map((v) => ({ version: v.version, deleted: v.body === null }));
  }

  /** Live keys (tests). */
  keys(prefix = ''): string[] {
    return [...this.objects.entries()]
      .filter(([k, v]) => k.startsWith(prefix) && v.at(-1)?.body)
      .map(([k]) => k)
      .sort();
  }

  /** Every byte ever written, all versions (tests scanning for leaked key material). */
  allBytes(): Buffer {
    return Buffer.concat(
      [...this.objects.values()].flatMap((vs) => vs.flatMap((v) => (v.body ? [Buffer.from(v.body)] : []))),
    );
  }

  text(key: string): string {
    const v = this.objects.get(key)?.at(-1);
    if (!v?.body) throw new Error(`${key} not found`);
    return Buffer.from(v.body).toString('utf8');
  }
}
