import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ConflictError } from '../../shared/errors.js';
import { updateState } from '../../shared/pipeline/state-store.js';
import { contract } from '../contracts/object-store.js';
import { emulator, versionedBucket } from './aws.js';

const aws = emulator();
let bucket: string;
beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
});

contract('S3ObjectStore over moto', () => new S3ObjectStore(aws.s3, bucket));

describe('S3ObjectStore against the emulator', () => {
  it('returns real S3 version ids for each write', async () => {
    const store = new S3ObjectStore(aws.s3, bucket);
    const a = await store.put('v/key', new Uint8Array([1]));
    const b = await store.put('v/key', new Uint8Array([2]));
    expect(a.version).toMatch(/^[\w.-]{8,}$/);
    expect(a.version).not.toBe(b.version);
  });

  it('maps a lost conditional write to ConflictError, and a retry from a fresh read wins', async () => {
    const store = new S3ObjectStore(aws.s3, bucket);
    await store.put('race/counter', new Uint8Array(Buffer.from('0')));
    const seen = await store.get('race/counter');
    await store.put('race/counter', new Uint8Array(Buffer.from('1')), { ifMatch: seen.etag });
    await expect(
      store.put('race/counter', new Uint8Array(Buffer.from('1')), { ifMatch: seen.etag }),
    ).rejects.toBeInstanceOf(ConflictError);
    const fresh = await store.get('race/counter');
    await store.put('race/counter', new Uint8Array(Buffer.from('2')), { ifMatch: fresh.etag });
    expect(Buffer.from((await store.get('race/counter')).body).toString()).toBe('2');
  });

  it('lets concurrent state updates all land through compare-and-set retries', async () => {
    const store = new S3ObjectStore(aws.s3, bucket);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        updateState(store, (s) => ({
          ...s,
          processed: { ...s.processed, [`u${i}`]: { outcome: 'accepted', at: 'now' } },
        })),
      ),
    );
    const { state } = await import('../../shared/pipeline/state-store.js').then((m) => m.loadState(store));
    expect(Object.keys(state.processed).sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']);
  });
});
