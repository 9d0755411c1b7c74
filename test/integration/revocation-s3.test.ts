import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { flushOutbox } from '../../shared/pipeline/outbox.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { runCli as cli } from '../fixtures/cli.js';
import { partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from './aws.js';

/** revoke, unrevoke, rules and authorize on an s3:// store (the emulator), as on a folder. */
const aws = emulator();
let bucket: string;
let client: string;

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  process.env.TRUSTROLL_AWS_ENDPOINT = aws.endpoint;
  const store = new S3ObjectStore(aws.s3, bucket, 'env/rev/');
  const chain = await partnerChain('Gamma');
  const { version } = await store.put('inbox/gamma/ca.pem', toBytes(pemOf(chain.root, chain.intermediate)));
  await ingestUploads([{ key: 'inbox/gamma/ca.pem', version }], {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(Date.now()),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  });
  client = join(mkdtempSync(join(tmpdir(), 'trustroll-rev-s3-')), 'client.pem');
  writeFileSync(client, chain.client.pem);
});

describe('revocation commands on an s3:// store', () => {
  const s3 = () => ['--store', `s3://${bucket}/env/rev`, '--region', 'us-east-1'];

  it('revokes, denies, takes back and allows again, through the index in the bucket', async () => {
    expect((await cli(['authorize', '--cert', client, ...s3()])).code).toBe(0);
    const revoked = await cli(['revoke', '--cert', client, '--reason', 'test', '--json', ...s3()]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({ outcome: 'revoked', issuer: { partner: 'gamma' } });
    const denied = await cli(['authorize', '--cert', client, '--json', ...s3()]);
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.out)).toMatchObject({ decision: 'deny', reasons: [{ code: 'cert.revoked' }] });
    expect((await cli(['unrevoke', '--cert', client, ...s3()])).code).toBe(0);
    expect((await cli(['authorize', '--cert', client, ...s3()])).code).toBe(0);
  }, 60_000);

  it("leaves the alert of a change made from the CLI in the store's outbox, for the pipeline's next run to send", async () => {
    const store = new S3ObjectStore(aws.s3, bucket, 'env/rev/');
    const revoked = await cli(['revoke', '--cert', client, '--reason', 'laptop lost', ...s3()]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.err).toMatch(
      /^WARNING {2}\[trustroll\] revoked by hand: serial [0-9a-f]+ of CN=Gamma Issuing CA,O=Gamma \(queued in the store's outbox: the pipeline's next run sends it to its alert topic\)$/m,
    );
    const waiting = (await loadState(store)).state.outbox ?? [];
    expect(waiting.map((n) => n.eventType)).toContain('revocation.changed');
    // The scheduled scan (or the next ingest) sends it to the topic and empties the outbox.
    const topic = new MemoryNotifier();
    expect(await flushOutbox(store, topic, memoryLog())).toEqual([]);
    expect(topic.sent.map((n) => n.eventType)).toContain('revocation.changed');
    // With the earlier changes' alerts, each once.
    expect(
      topic.sent.filter((n) => n.eventType === 'revocation.changed' && /laptop lost/.test(n.body)),
    ).toHaveLength(1);
    expect(new Set(topic.sent.map((n) => n.id)).size).toBe(topic.sent.length);
    expect((await loadState(store)).state.outbox ?? []).toEqual([]);
    expect((await cli(['unrevoke', '--cert', client, ...s3()])).code).toBe(0);
  }, 60_000);

  it('sets route rules that authorize then applies', async () => {
    const set = await cli(['rules', '--partner', 'gamma', '--route', 'GET /orders/*', ...s3()]);
    expect(set.code, set.err).toBe(0);
    expect((await cli(['authorize', '--cert', client, '--route', 'GET /orders/7', ...s3()])).code).toBe(0);
    const other = await cli(['authorize', '--cert', client, '--route', 'GET /admin', ...s3()]);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/\[route\.denied\]/);
  }, 60_000);

  it('says plainly that a prefix holds no store', async () => {
    const r = await cli([
      'revoke',
      '--cert',
      client,
      '--reason',
      'x',
      '--store',
      `s3://${bucket}/typo`,
      '--region',
      'us-east-1',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/typo holds no trustroll store/);
  });
});
