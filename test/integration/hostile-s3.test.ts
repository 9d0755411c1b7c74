import { ListObjectsV2Command, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { handleBatch } from '../../shared/pipeline/batch.js';
import type { IngestDeps } from '../../shared/pipeline/ingest.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { rsaSpki } from '../fixtures/der.js';
import { issue, partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from './aws.js';

/** Hostile uploads through the S3 adapter (moto): principles 3, 4, 5 and 6 of issue 15. */
const aws = emulator();
let bucket: string;
let store: S3ObjectStore;
let deps: IngestDeps;

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  store = new S3ObjectStore(aws.s3, bucket);
  deps = {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(Date.now()),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  };
});

const upload = async (key: string, body: string | Uint8Array) => {
  const { version } = await store.put(key, typeof body === 'string' ? toBytes(body) : body);
  return { kind: 'upload' as const, ref: { key, version } };
};
const listed = async (prefix: string) =>
  ((await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
    (o) => o.Key!,
  );

describe('hostile uploads on S3', () => {
  it('keeps each upload of one name under its own path (principle 3)', async () => {
    const a = await partnerChain('Same Name A');
    const b = await partnerChain('Same Name B');
    await handleBatch([await upload('inbox/same/ca.pem', pemOf(a.root, a.intermediate))], deps);
    await handleBatch([await upload('inbox/same/ca.pem', pemOf(b.root, b.intermediate))], deps);
    const kept = await listed('archive/same/');
    expect(kept.filter((k) => k.endsWith('.report.json'))).toHaveLength(2);
    expect(kept.filter((k) => k.endsWith('.pem'))).toHaveLength(2);
  });

  it('judges each item alone: a malformed request and a key at the length limit do not stop a good upload (principle 4)', async () => {
    const good = await partnerChain('Good Neighbour');
    // The partner with the long key has a PKI of its own: another partner's root would make the
    // good upload's intermediate a claim on it (ca.other-partner).
    const long = await partnerChain('Long Key');
    const longKey = `inbox/long/${'n'.repeat(1024 - 'inbox/long/'.length - 4)}.pem`;
    expect(Buffer.byteLength(longKey)).toBe(1024);
    const bad = await store.put(
      'requests/bad.json',
      toBytes(JSON.stringify({ fingerprints: [123456789012], reason: 'x', requestedBy: 'y' })),
    );
    const result = await handleBatch(
      [
        await upload(longKey, long.root.pem),
        { kind: 'request', ref: { key: 'requests/bad.json', version: bad.version } },
        await upload('inbox/good/ca.pem', pemOf(good.root, good.intermediate)),
      ],
      deps,
    );
    expect(result.done).toEqual([true, true, true]);
    expect(result.requests[0]).toMatchObject({ outcome: 'rejected' });
    expect(result.requests[0]!.message).toMatch(/fingerprints must be a non-empty list/);
    const { state } = await loadState(store);
    expect(state.entries.some((e) => e.subject.includes('Good Neighbour Issuing'))).toBe(true);
    expect(state.entries.some((e) => e.subject.includes('Long Key Root'))).toBe(true);
    const versions = await aws.s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'inbox/long/' }),
    );
    expect(versions.Versions ?? []).toEqual([]);
  });

  it('refuses a key no CA should have and a loop of CAs signing each other (principles 5 and 6)', async () => {
    const root = await issue({ subject: 'CN=S3 Odd Root', key: 'rsa2048' });
    const odd = await issue({ subject: 'CN=S3 Odd CA', issuer: root, spki: rsaSpki(3072, 3070) });
    const a0 = await issue({ subject: 'CN=S3 Loop A' });
    const b = await issue({ subject: 'CN=S3 Loop B', issuer: a0 });
    const a = await issue({ subject: 'CN=S3 Loop A', issuer: b });
    const result = await handleBatch(
      [await upload('inbox/odd/ca.pem', pemOf(root, odd)), await upload('inbox/loop/pair.pem', pemOf(a, b))],
      deps,
    );
    const [oddReport, loopReport] = result.uploads;
    expect(oddReport!.outcome).toBe('rejected');
    expect(oddReport!.certificates.flatMap((c) => c.findings.map((f) => f.code))).toContain(
      'key.unsupported',
    );
    expect(loopReport!.outcome).toBe('rejected');
    expect(loopReport!.certificates.flatMap((c) => c.findings.map((f) => f.code))).toContain('chain.no-root');
    const { state } = await loadState(store);
    expect(state.entries.some((e) => e.subject.includes('Loop') || e.subject.includes('Odd'))).toBe(false);
  });
});

describe('exactly once where promised, on S3 (principle 8)', () => {
  it('marks a revision whose run died before publishing as superseded, and diff and rollback explain it', async () => {
    const prefix = 'superseded/';
    const base = new S3ObjectStore(aws.s3, bucket, prefix);
    // The first run commits its revision, then dies writing the truststore.
    let crash = true;
    const dying = new Proxy(base, {
      get: (target, prop, receiver) =>
        prop === 'put'
          ? async (key: string, ...rest: unknown[]) => {
              if (crash && key === 'truststore/truststore.pem') {
                crash = false;
                throw new Error('killed before publishing');
              }
              return (target.put as (...a: unknown[]) => unknown).call(target, key, ...rest);
            }
          : Reflect.get(target, prop, receiver),
    });
    const first = await partnerChain('Early Bird');
    const second = await partnerChain('Late Bird');
    const put = async (key: string, body: string) => {
      const { version } = await base.put(key, toBytes(body));
      return { kind: 'upload' as const, ref: { key, version } };
    };
    await expect(
      handleBatch([await put('inbox/early/ca.pem', pemOf(first.root, first.intermediate))], {
        ...deps,
        store: dying,
      }),
    ).rejects.toThrow(/killed before publishing/);
    // A later batch is published first.
    await handleBatch([await put('inbox/late/ca.pem', pemOf(second.root, second.intermediate))], {
      ...deps,
      store: base,
    });
    const { state } = await loadState(base);
    expect(state.history.map((r) => [r.revision, r.version !== undefined, r.supersededBy])).toEqual([
      [1, false, 2],
      [2, true, undefined],
    ]);
    // Its changes are in the published revision 2: the CAs of both partners are served.
    expect(state.entries.map((e) => e.partner).sort()).toEqual(['early', 'early', 'late', 'late']);

    process.env.TRUSTROLL_AWS_ENDPOINT = aws.endpoint;
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await run([...args, '--store', `s3://${bucket}/superseded`], {
        out: (t) => (out += t),
        err: (t) => (err += t),
        stdin: async () => new Uint8Array(),
      });
      return { code, out, err };
    };
    const history = await cli('history');
    expect(history.out).toMatch(/revision 1 {2}version \(superseded by revision 2\)/);
    const diff = await cli('diff', '1', '2');
    expect(diff.code).toBe(0);
    const rollback = await cli('rollback', '--to', '1');
    expect(rollback.code).toBe(2);
    expect(rollback.err).toMatch(
      /revision 1 was never published: its changes were published with revision 2 \(version [^)]+\), which superseded it: roll back to a published revision instead/,
    );
  });
});
