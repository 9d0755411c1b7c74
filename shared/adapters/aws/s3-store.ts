import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStore, ObjectSummary, PutOptions, StoredObject } from '../../ports.js';
import { mapAwsError } from './errors.js';

/**
 * The client, for the CLI to import with this adapter: a CommonJS package imported dynamically
 * from the CLI's split bundle would have no named exports, this module has.
 */
export { S3Client } from '@aws-sdk/client-s3';

/**
 * The ObjectStore port over an S3 bucket with versioning. Compare-and-set uses S3 conditional
 * writes (`If-Match` on the ETag, `If-None-Match: *` to create); their 412/409 answers become
 * ConflictError, which the use-cases retry from a fresh read.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    /** Key prefix for every object (several environments in one bucket); '' or ending in '/'. */
    readonly prefix = '',
  ) {}

  private k(key: string): string {
    return `${this.prefix}${key}`;
  }

  async get(key: string, opts: { version?: string } = {}): Promise<StoredObject> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.k(key),
          ...(opts.version ? { VersionId: opts.version } : {}),
        }),
      );
      const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      return { body, version: out.VersionId ?? 'null', etag: out.ETag ?? '', metadata: out.Metadata ?? {} };
    } catch (error) {
      throw mapAwsError(error, `reading s3://${this.bucket}/${this.k(key)}`);
    }
  }

  async put(
    key: string,
    body: Uint8Array,
    opts: PutOptions = {},
  ): Promise<{ version: string; etag: string }> {
    try {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.k(key),
          Body: body,
          ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
          ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.metadata ? { Metadata: { ...opts.metadata } } : {}),
        }),
      );
      return { version: out.VersionId ?? 'null', etag: out.ETag ?? '' };
    } catch (error) {
      throw mapAwsError(error, `writing s3://${this.bucket}/${this.k(key)}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.k(key) }));
    } catch (error) {
      const mapped = mapAwsError(error, `deleting s3://${this.bucket}/${this.k(key)}`);
      if (mapped.name !== 'NotFoundError') throw mapped;
    }
  }

  /**
   * The versions and the delete markers of exactly this key (the prefix of the listing also
   * matches longer keys), each list newest first, as S3 lists them, with their times.
   */
  private async listVersions(key: string): Promise<{
    versions: { id: string; at: number }[];
    markers: { id: string; at: number }[];
  }> {
    const full = this.k(key);
    const versions: { id: string; at: number }[] = [];
    const markers: { id: string; at: number }[] = [];
    try {
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      do {
        const page = await this.s3.send(
          new ListObjectVersionsCommand({
            Bucket: this.bucket,
            Prefix: full,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
          }),
        );
        for (const [list, into] of [
          [page.Versions ?? [], versions],
          [page.DeleteMarkers ?? [], markers],
        ] as const) {
          for (const v of list)
            if (v.Key === full && v.VersionId)
              into.push({ id: v.VersionId, at: v.LastModified?.getTime() ?? 0 });
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker);
    } catch (error) {
      throw mapAwsError(error, `listing the versions of s3://${this.bucket}/${this.k(key)}`);
    }
    return { versions, markers };
  }

  /**
   * Deletes version `upTo` and every older version of the key by version id (a plain DeleteObject
   * on a versioned bucket only adds a delete marker and keeps the bytes as a noncurrent version),
   * then the delete markers older than it.
   */
  async destroy(key: string, opts: { upTo?: string } = {}): Promise<void> {
    const { versions, markers } = await this.listVersions(key);
    const from = opts.upTo === undefined ? 0 : versions.findIndex((v) => v.id === opts.upTo);
    if (from < 0) return;
    const since = opts.upTo === undefined ? Number.POSITIVE_INFINITY : versions[from]!.at;
    const doomed = [...versions.slice(from), ...markers.filter((m) => m.at < since)];
    for (const { id } of doomed) {
      try {
        await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.k(key), VersionId: id }));
      } catch (error) {
        const mapped = mapAwsError(error, `destroying s3://${this.bucket}/${this.k(key)} version ${id}`);
        if (mapped.name !== 'NotFoundError') throw mapped;
      }
    }
  }

  /** Every version and delete marker of the key, oldest first. */
  async versions(key: string): Promise<{ version: string; deleted: boolean }[]> {
    const { versions, markers } = await this.listVersions(key);
    // Each list is newest first: reversed, with the markers placed among the versions by time.
    const all = [
      ...versions.map((v, i) => ({ version: v.id, deleted: false, at: v.at, order: i })),
      ...markers.map((m, i) => ({ version: m.id, deleted: true, at: m.at, order: i })),
    ];
    return all
      .sort((a, b) => a.at - b.at || b.order - a.order)
      .map(({ version, deleted }) => ({ version, deleted }));
  }

  async head(key: string, opts: { version?: string } = {}) {
    try {
      const out = await this.s3.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: this.k(key),
          ...(opts.version ? { VersionId: opts.version } : {}),
        }),
      );
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? '',
        version: out.VersionId ?? 'null',
        metadata: out.Metadata ?? {},
      };
    } catch (error) {
      throw mapAwsError(error, `reading s3://${this.bucket}/${this.k(key)}`);
    }
  }

  /** Server-side copy: the object is never read into the function. */
  async copy(from: string, to: string): Promise<void> {
    try {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.k(to),
          CopySource: `${this.bucket}/${this.k(from).split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (error) {
      throw mapAwsError(error, `copying s3://${this.bucket}/${from} to ${to}`);
    }
  }

  async list(prefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.k(prefix),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) {
          if (o.Key)
            out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, etag: o.ETag ?? '' });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw mapAwsError(error, `listing s3://${this.bucket}/${prefix}`);
    }
    return out;
  }
}
