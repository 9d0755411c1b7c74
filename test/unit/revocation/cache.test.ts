import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VersionedFolderStore } from '../../../shared/adapters/local/folder-store.js';
import { UpstreamError } from '../../../shared/errors.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { DEFAULT_DOOR_SETTINGS, Door } from '../../../shared/revocation/authorizer.js';
import { CertificateCache, IndexCache } from '../../../shared/revocation/cache.js';
import { buildIndex, indexSha256 } from '../../../shared/revocation/index.js';
import { MANUAL, toRecords } from '../../../shared/revocation/records.js';
import { emptyRevocation, REVOCATION_KEYS, type RevocationState } from '../../../shared/revocation/state.js';
import { entryOf } from '../../../shared/truststore/state.js';
import { FakeClock, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { type Issued, intermediate, leaf, NOW, root } from '../../fixtures/pki.js';

/**
 * The authorizer's memory: the index checked at most every refresh interval (one HEAD), read
 * again only when its version changed, kept while checks fail up to its max age; parsed
 * certificates by PEM.
 */
let caRoot: Issued;
let ca: Issued;
let alice: Issued;
beforeAll(async () => {
  caRoot = await root('CN=Cache Root,O=Acme', { keySlot: 'cache-r' });
  ca = await intermediate('CN=Cache Issuing,O=Acme', caRoot, { keySlot: 'cache-i' });
  alice = await leaf('CN=alice,O=Acme', ca, { key: 'p256', serial: '0a11ce' });
});

const indexBytes = (rev: RevocationState, revision = 1) =>
  buildIndex({
    entries: [caRoot, ca].map((i) =>
      entryOf(parseCertificate(i.der), {
        partner: 'acme',
        upload: { key: 'inbox/acme/ca.pem', version: '1' },
        addedAt: NOW.toISOString(),
        findings: [],
      }),
    ),
    revocation: rev,
    serials: () => toRecords([]),
    revision,
    truststoreSha256: 'a'.repeat(64),
    builtAt: NOW.toISOString(),
  });
const revokedAlice = (): RevocationState => ({
  ...emptyRevocation(),
  generation: 1,
  manual: [
    {
      issuer: parseCertificate(ca.der).fingerprint,
      serial: '0a11ce',
      reason: 'keyCompromise',
      by: 'ops',
      at: NOW.toISOString(),
    },
  ],
});
const publish = (store: Pick<MemoryStore, 'put'>, bytes: Uint8Array) =>
  store.put(REVOCATION_KEYS.index, bytes, { metadata: { sha256: indexSha256(bytes) } });

/** A store that counts HEADs and GETs of the index. */
const counted = () => {
  const store = new MemoryStore();
  const ops: string[] = [];
  store.beforeOp = (op, key) => {
    if (key === REVOCATION_KEYS.index && (op === 'head' || op === 'get')) ops.push(op);
  };
  return { store, ops };
};

describe('IndexCache', () => {
  it('reads a local index again whose version folder was deleted by hand: the same version id, other contents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-cache-'));
    const store = new VersionedFolderStore(dir);
    expect((await publish(store, indexBytes(emptyRevocation()))).version).toBe('000001');
    const clock = new FakeClock(NOW.getTime());
    const cache = new IndexCache({ store, clock, log: memoryLog() }, { refreshMs: 1_000, maxAgeMs: 900_000 });
    const before = await cache.current();
    expect(before.ok && before.index.header.manual).toEqual([]);
    // The folder of its versions deleted, then a newer index published: numbered 000001 again.
    rmSync(join(dir, `${REVOCATION_KEYS.index}.v`), { recursive: true });
    expect((await publish(store, indexBytes(revokedAlice(), 2))).version).toBe('000001');
    clock.advance(1_000);
    const after = await cache.current();
    expect(after.ok && after.index.header.manual).toHaveLength(1);
  });

  it('reads the index once, then only HEADs it once per refresh interval, and GETs a new version only', async () => {
    const { store, ops } = counted();
    await publish(store, indexBytes(emptyRevocation()));
    const clock = new FakeClock(NOW.getTime());
    const cache = new IndexCache(
      { store, clock, log: memoryLog() },
      { refreshMs: 60_000, maxAgeMs: 900_000 },
    );
    const first = await cache.current();
    expect(first.ok).toBe(true);
    expect(ops).toEqual(['head', 'get']);
    for (let i = 0; i < 100; i++) await cache.current();
    clock.advance(59_999);
    await cache.current();
    expect(ops).toEqual(['head', 'get']);
    clock.advance(1);
    await cache.current();
    expect(ops).toEqual(['head', 'get', 'head']);

    const next = await publish(store, indexBytes(revokedAlice()));
    await cache.current();
    expect(ops).toEqual(['head', 'get', 'head']);
    clock.advance(60_000);
    const now = await cache.current();
    expect(ops).toEqual(['head', 'get', 'head', 'head', 'get']);
    expect(now.ok && now.version).toBe(next.version);
    expect(now.ok && now.index.header.manual).toHaveLength(1);
  });

  it('never steps back to an older index: a version older than the one held is a failed check', async () => {
    const { store } = counted();
    await publish(store, indexBytes(emptyRevocation()));
    const clock = new FakeClock(NOW.getTime());
    const log = memoryLog();
    const cache = new IndexCache({ store, clock, log }, { refreshMs: 60_000, maxAgeMs: 900_000 });
    await publish(store, indexBytes(revokedAlice()));
    const held = await cache.current();
    expect(held.ok && held.index.header.manual).toHaveLength(1);
    // The newest version deleted: the current one is the older index again.
    const versions = store.objects.get(REVOCATION_KEYS.index)!;
    versions.pop();
    clock.advance(60_000);
    const kept = await cache.current();
    expect(kept).toMatchObject({ ok: true, stale: true });
    expect(kept.ok && kept.index.header.manual).toHaveLength(1);
    expect(JSON.stringify(log.lines)).toMatch(/built from an older state .* than the index held/);
  });

  it('shares one check between concurrent callers', async () => {
    const { store, ops } = counted();
    await publish(store, indexBytes(emptyRevocation()));
    const cache = new IndexCache(
      { store, clock: new FakeClock(NOW.getTime()), log: memoryLog() },
      { refreshMs: 60_000, maxAgeMs: 900_000 },
    );
    const all = await Promise.all(Array.from({ length: 20 }, () => cache.current()));
    expect(all.every((r) => r.ok)).toBe(true);
    expect(ops).toEqual(['head', 'get']);
  });

  it('keeps the last index while checks fail, up to its max age, then reports it unavailable', async () => {
    const { store } = counted();
    await publish(store, indexBytes(emptyRevocation()));
    const clock = new FakeClock(NOW.getTime());
    const log = memoryLog();
    const cache = new IndexCache({ store, clock, log }, { refreshMs: 60_000, maxAgeMs: 900_000 });
    expect((await cache.current()).ok).toBe(true);
    store.beforeOp = () => {
      throw new UpstreamError('S3 is unreachable');
    };
    clock.advance(60_000);
    const kept = await cache.current();
    expect(kept).toMatchObject({ ok: true, stale: true });
    expect(log.lines.map((l) => l.message)).toContain('revocation index check failed');
    clock.advance(840_000);
    expect((await cache.current()).ok).toBe(true);
    clock.advance(1);
    const gone = await cache.current();
    expect(gone.ok).toBe(false);
    expect(!gone.ok && gone.reason).toMatch(/last confirmed 900 s ago.*S3 is unreachable/);

    store.beforeOp = () => {};
    clock.advance(5_000);
    expect(await cache.current()).toMatchObject({ ok: true, stale: false });
  });

  it('has no index when none was published, and retries sooner than the refresh interval', async () => {
    const { store, ops } = counted();
    const clock = new FakeClock(NOW.getTime());
    const cache = new IndexCache(
      { store, clock, log: memoryLog() },
      { refreshMs: 60_000, maxAgeMs: 900_000 },
    );
    const none = await cache.current();
    expect(none).toEqual({
      ok: false,
      reason: expect.stringMatching(/no revocation index at revocation\/index\.trx/),
    });
    await publish(store, indexBytes(emptyRevocation()));
    clock.advance(4_999);
    expect((await cache.current()).ok).toBe(false);
    clock.advance(1);
    expect((await cache.current()).ok).toBe(true);
    expect(ops).toEqual(['head', 'head', 'get']);
  });

  it('refuses a version whose bytes are not what the pipeline published (SHA-256 metadata)', async () => {
    const { store } = counted();
    const bytes = indexBytes(emptyRevocation());
    await store.put(REVOCATION_KEYS.index, bytes, { metadata: { sha256: 'f'.repeat(64) } });
    const cache = new IndexCache(
      { store, clock: new FakeClock(NOW.getTime()), log: memoryLog() },
      { refreshMs: 60_000, maxAgeMs: 900_000 },
    );
    const r = await cache.current();
    expect(!r.ok && r.reason).toMatch(/does not hold what was published/);
  });
});

describe('CertificateCache', () => {
  it('parses a PEM once and drops the least recently used past its capacity', () => {
    const cache = new CertificateCache(2);
    const a = cache.get(alice.pem);
    expect(cache.get(alice.pem)).toBe(a);
    cache.get(ca.pem);
    cache.get(alice.pem);
    cache.get(caRoot.pem);
    expect(cache.size).toBe(2);
    // alice was used after ca, so ca was dropped: alice is still the same object.
    expect(cache.get(alice.pem)).toBe(a);
    expect(() => cache.get('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow();
  });
});

describe('Door', () => {
  const door = (store: MemoryStore, settings = {}) =>
    new Door(
      { store, clock: new FakeClock(NOW.getTime()), log: memoryLog() },
      { ...DEFAULT_DOOR_SETTINGS, ...settings },
    );

  it('allows a client of a held CA with its context, and denies it once revoked', async () => {
    const store = new MemoryStore();
    await publish(store, indexBytes(emptyRevocation()));
    const allowed = await door(store).decide(alice.pem, 'GET /orders');
    expect(allowed).toMatchObject({
      decision: 'allow',
      partner: 'acme',
      context: { partner: 'acme', serial: '0a11ce', subject: 'CN=alice,O=Acme' },
    });
    await publish(store, indexBytes(revokedAlice()));
    const denied = await door(store).decide(alice.pem, 'GET /orders');
    expect(denied.decision).toBe('deny');
    expect(denied.reasons.map((r) => r.code)).toEqual(['cert.revoked']);
    expect(MANUAL).toBe(11);
  });

  it('denies a request without a client certificate, and an unreadable one', async () => {
    const store = new MemoryStore();
    await publish(store, indexBytes(emptyRevocation()));
    expect((await door(store).decide(undefined, 'GET /')).reasons[0]?.code).toBe('cert.missing');
    expect((await door(store).decide('', 'GET /')).reasons[0]?.code).toBe('cert.missing');
    const garbage = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    expect((await door(store).decide(garbage, 'GET /')).reasons[0]?.code).toBe('cert.unreadable');
  });

  it('fails closed without an index, or open when told to, with the client identified', async () => {
    const store = new MemoryStore();
    const closed = await door(store).decide(alice.pem, 'GET /');
    expect(closed).toMatchObject({ decision: 'deny', reasons: [{ code: 'index.unavailable' }] });
    const open = await door(store, { indexUnavailable: 'allow' }).decide(alice.pem, 'GET /');
    expect(open).toMatchObject({
      decision: 'allow',
      reasons: [{ code: 'index.unavailable' }],
      context: { partner: '', serial: '0a11ce' },
    });
  });
});
