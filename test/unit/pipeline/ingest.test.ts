import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../shared/errors.js';
import { type IngestDeps, ingestUploads } from '../../../shared/pipeline/ingest.js';
import { readInput } from '../../../shared/pki/read.js';
import { lintInputs } from '../../../shared/truststore/lint.js';
import { KEYS, parseState } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import {
  type Issued,
  intermediate,
  NOW,
  partnerChain,
  pemOf,
  privateKeyPem,
  root,
  toBytes,
} from '../../fixtures/pki.js';

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta', { key: 'p384' });
});

let store: MemoryStore;
let gateway: FakeGateway;
let notifier: MemoryNotifier;
let clock: FakeClock;
let deps: IngestDeps;
beforeEach(() => {
  store = new MemoryStore();
  gateway = new FakeGateway('api.example.com');
  notifier = new MemoryNotifier();
  clock = new FakeClock(NOW.getTime());
  deps = {
    store,
    gateway,
    notifier,
    clock,
    log: memoryLog(),
    config: { expiringDays: 30, roll: { domains: ['api.example.com'], pollIntervalMs: 1000 } },
  };
});

const drop = async (key: string, content: string | Uint8Array) => {
  const { version } = await store.put(key, typeof content === 'string' ? toBytes(content) : content);
  return { key, version };
};
const state = () => parseState(toBytes(store.text(KEYS.state)));
const truststoreFingerprints = () =>
  readInput({ name: 't', bytes: toBytes(store.text(KEYS.truststore)) })
    .certificates.map((c) => c.cert.fingerprint)
    .sort();
const fp = (i: Issued) => readInput({ name: 'x', bytes: i.der }).certificates[0]!.cert.fingerprint;
const versionsOf = (key: string) => (store.objects.get(key) ?? []).filter((v) => v.body).length;
/** A kept key with its per-upload tag (`@` and ten hex digits) shown as `@tag`. */
const untag = (key: string | undefined) => key?.replace(/@[0-9a-f]{10}(?=\.(pem|report\.json)$)/, '@tag');
const kept = (prefix: string) => store.keys(prefix).map(untag);
/** The one kept key under a prefix that ends as asked. */
const keptKey = (prefix: string, ending: string) => store.keys(prefix).find((k) => k.endsWith(ending))!;

describe('ingestUploads', () => {
  it('accepts a complete chain: new version, archived with a report, rolled, alerted', async () => {
    const ref = await drop('inbox/acme/bundle.pem', pemOf(acme.root, acme.intermediate));
    const report = await ingestUploads([ref], deps);

    expect(report.uploads).toMatchObject([{ key: ref.key, partner: 'acme', outcome: 'accepted' }]);
    expect(untag(report.uploads[0]!.movedTo)).toBe('archive/acme/bundle.pem@tag.pem');
    expect(report.changed).toBe(true);
    expect(report.revision).toBe(1);
    expect(truststoreFingerprints()).toEqual([fp(acme.root), fp(acme.intermediate)].sort());
    expect(store.keys('inbox/')).toEqual([]);
    expect(kept('archive/')).toEqual([
      'archive/acme/bundle.pem@tag.pem',
      'archive/acme/bundle.pem@tag.report.json',
    ]);
    // What was understood: the certificates as canonical PEM, and the report with the upload's
    // hash, size and name. Not the upload's own bytes.
    expect(store.text(keptKey('archive/', '.pem'))).toBe(
      pemOf(acme.root, acme.intermediate).replace(/\n*$/, '\n'),
    );
    const saved = JSON.parse(store.text(keptKey('archive/', '.report.json')));
    expect(saved.certificates.map((c: { verdict: string }) => c.verdict)).toEqual(['added', 'added']);
    expect(saved).toMatchObject({
      key: ref.key,
      version: ref.version,
      size: pemOf(acme.root, acme.intermediate).length,
    });
    expect(saved.sha256).toMatch(/^[0-9a-f]{64}$/);
    const entries = state().entries;
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      partner: 'acme',
      upload: { key: ref.key, version: ref.version },
      addedAt: NOW.toISOString(),
    });
    expect(gateway.calls).toEqual([{ domain: 'api.example.com', version: report.version }]);
    expect(report.roll?.domains).toMatchObject([{ outcome: 'rolled', to: report.version }]);
    expect(notifier.types()).toEqual(['upload.accepted', 'truststore.rolled']);
    expect(notifier.sent[0]).toMatchObject({ severity: 'info', partner: 'acme' });
    expect(notifier.sent.every((n) => n.subject.length <= 100)).toBe(true);
    expect(lintInputs([{ name: 't', bytes: toBytes(store.text(KEYS.truststore)) }], { at: NOW }).ok).toBe(
      true,
    );
  });

  it('rejects a leaf-only upload: no new version, kept under rejected/ with a report, alerted', async () => {
    const ref = await drop('inbox/acme/client.pem', acme.client.pem);
    const report = await ingestUploads([ref], deps);
    expect(report.uploads[0]).toMatchObject({ outcome: 'rejected' });
    expect(untag(report.uploads[0]!.movedTo)).toBe('rejected/acme/client.pem@tag.pem');
    expect(report.changed).toBe(false);
    expect(store.keys(KEYS.truststore)).toEqual([]);
    const saved = JSON.parse(store.text(keptKey('rejected/', '.report.json')));
    expect(saved.certificates[0].findings.map((f: { code: string }) => f.code)).toContain('cert.not-ca');
    expect(notifier.types()).toEqual(['upload.rejected']);
    expect(notifier.sent[0]!.subject).toMatch(/upload rejected: acme\/client\.pem \(cert\.not-ca\)/);
    expect(gateway.calls).toEqual([]);
  });

  it('decides a mixed batch per upload, with one new version and one roll', async () => {
    const good = await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate));
    const leafAndCa = await drop('inbox/beta/mixed.pem', pemOf(beta.root, beta.client));
    const report = await ingestUploads([good, leafAndCa], deps);
    expect(report.uploads.map((u) => u.outcome)).toEqual(['accepted', 'rejected']);
    expect(truststoreFingerprints()).toEqual([fp(acme.root), fp(acme.intermediate)].sort());
    expect(versionsOf(KEYS.truststore)).toBe(1);
    expect(gateway.calls).toHaveLength(1);
    expect(notifier.types().sort()).toEqual(['truststore.rolled', 'upload.accepted', 'upload.rejected']);
  });

  it('ignores a duplicate event: nothing changes and nothing new is alerted', async () => {
    const ref = await drop('inbox/acme/bundle.pem', pemOf(acme.root, acme.intermediate));
    await ingestUploads([ref], deps);
    const stateVersions = versionsOf(KEYS.state);
    const sent = notifier.sent.length;
    const again = await ingestUploads([ref], deps);
    expect(again.uploads[0]!.outcome).toBe('missing');
    expect(versionsOf(KEYS.state)).toBe(stateVersions);
    expect(notifier.sent).toHaveLength(sent);
  });

  it('recognises an upload already processed whose move did not happen (crash after commit)', async () => {
    const ref = await drop('inbox/acme/bundle.pem', pemOf(acme.root, acme.intermediate));
    store.beforeOp = (op, key) => {
      if (op === 'destroy' && key === ref.key) throw new Error('crash');
    };
    const first = await ingestUploads([ref], deps);
    expect(first.errors.join()).toMatch(/removing inbox\/acme\/bundle\.pem from the inbox/);
    expect(store.keys('inbox/')).toEqual([ref.key]);
    store.beforeOp = () => {};
    const sent = notifier.sent.length;
    const second = await ingestUploads([ref], deps);
    expect(second.uploads[0]).toMatchObject({ outcome: 'duplicate' });
    expect(second.uploads[0]!.movedTo).toBe(first.uploads[0]!.movedTo ?? keptKey('archive/', '.pem'));
    expect(kept('archive/')).toEqual([
      'archive/acme/bundle.pem@tag.pem',
      'archive/acme/bundle.pem@tag.report.json',
    ]);
    expect(store.keys('inbox/')).toEqual([]);
    expect(versionsOf(KEYS.truststore)).toBe(1);
    expect(notifier.sent).toHaveLength(sent);
  });

  it('makes no new version for a batch that changes nothing', async () => {
    await ingestUploads([await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate))], deps);
    const again = await ingestUploads([await drop('inbox/acme/b.pem', pemOf(acme.intermediate))], deps);
    expect(again.uploads[0]!.outcome).toBe('accepted');
    expect(again.changed).toBe(false);
    expect(versionsOf(KEYS.truststore)).toBe(1);
    expect(gateway.calls).toHaveLength(1);
    expect(notifier.sent.at(-1)!.body).toMatch(/already in the truststore/);
  });

  it('admits an intermediate whose root arrives in another file of the same batch, in either order', async () => {
    const report = await ingestUploads(
      [
        await drop('inbox/acme/int.pem', acme.intermediate.pem),
        await drop('inbox/acme/root.der', acme.root.der),
      ],
      deps,
    );
    expect(report.uploads.map((u) => u.outcome)).toEqual(['accepted', 'accepted']);
    expect(truststoreFingerprints()).toHaveLength(2);
  });

  it('holds an intermediate that arrives before its root, and admits both when the root comes in a later batch', async () => {
    const first = await ingestUploads([await drop('inbox/acme/int.pem', acme.intermediate.pem)], deps);
    expect(first.uploads[0]!.outcome).toBe('pending');
    expect(store.keys('inbox/')).toEqual(['inbox/acme/int.pem']);
    expect(store.keys(KEYS.truststore)).toEqual([]);
    expect(notifier.types()).toEqual(['upload.pending']);
    // Another unrelated batch: still waiting, no new alert.
    await ingestUploads([await drop('inbox/beta/ca.pem', pemOf(beta.root, beta.intermediate))], deps);
    expect(store.keys('inbox/')).toEqual(['inbox/acme/int.pem']);
    expect(notifier.types().filter((t) => t === 'upload.pending')).toHaveLength(1);
    // The root arrives: the held intermediate is judged again with it and both join.
    const later = await ingestUploads([await drop('inbox/acme/root.pem', acme.root.pem)], deps);
    expect(later.uploads.map((u) => [u.key, u.outcome])).toEqual([
      ['inbox/acme/root.pem', 'accepted'],
      ['inbox/acme/int.pem', 'accepted'],
    ]);
    expect(truststoreFingerprints()).toEqual(
      [acme.root, acme.intermediate, beta.root, beta.intermediate].map(fp).sort(),
    );
    expect(store.keys('inbox/')).toEqual([]);
    expect(state().pending).toEqual({});
  });

  it('rejects a held intermediate once its window ends without the root', async () => {
    await ingestUploads([await drop('inbox/acme/int.pem', acme.intermediate.pem)], {
      ...deps,
      config: { ...deps.config, pendingWindowMs: 3_600_000 },
    });
    clock.advance(2 * 3_600_000);
    const late = await ingestUploads([], { ...deps, config: { ...deps.config, pendingWindowMs: 3_600_000 } });
    expect(late.uploads[0]).toMatchObject({ key: 'inbox/acme/int.pem', outcome: 'rejected' });
    expect(untag(late.uploads[0]!.movedTo)).toBe('rejected/acme/int.pem@tag.pem');
    expect(late.uploads[0]!.findings.map((f) => f.message).join()).toMatch(/Waited until .* for the issuer/);
    expect(state().pending).toEqual({});
  });

  it('destroys the held version of a waiting upload that its partner withdrew, and stops waiting for it', async () => {
    await ingestUploads([await drop('inbox/acme/int.pem', acme.intermediate.pem)], deps);
    expect(Object.keys(state().pending ?? {})).toEqual(['inbox/acme/int.pem']);
    await store.delete('inbox/acme/int.pem');
    await ingestUploads([], deps);
    expect(state().pending).toEqual({});
    expect((store.objects.get('inbox/acme/int.pem') ?? []).filter((v) => v.body)).toEqual([]);
  });

  it('never admits a partial chain: an intermediate alone is not added', async () => {
    const alone = await ingestUploads([await drop('inbox/acme/int.pem', acme.intermediate.pem)], deps);
    expect(alone.uploads[0]!.outcome).not.toBe('accepted');
    expect(store.keys(KEYS.truststore)).toEqual([]);
  });

  it('rejects an upload whose chain depended on another rejected upload of the batch', async () => {
    const weakRoot = await root('CN=Weak Root', { key: 'rsa1024' });
    const child = await intermediate('CN=Child of weak', weakRoot);
    const report = await ingestUploads(
      [await drop('inbox/weak/root.pem', weakRoot.pem), await drop('inbox/weak/int.pem', child.pem)],
      deps,
    );
    expect(report.uploads.map((u) => u.outcome)).toEqual(['rejected', 'rejected']);
    expect(store.keys(KEYS.truststore)).toEqual([]);
  });

  it("rejects a sub-CA that exceeds its issuer's pathLenConstraint, in one upload with its chain or after the chain is trusted", async () => {
    // partnerChain's intermediate has pathLenConstraint 0: no CA may sit below it.
    const sub = await intermediate('CN=Acme Sub CA,O=Acme', acme.intermediate, { pathLen: undefined });
    const together = await ingestUploads(
      [await drop('inbox/acme/chain.pem', pemOf(acme.root, acme.intermediate, sub))],
      deps,
    );
    expect(together.uploads[0]).toMatchObject({ outcome: 'rejected' });
    const judged = together.uploads[0]!.certificates.map((c) => [
      c.fingerprint,
      c.findings.map((f) => f.code),
    ]);
    expect(judged).toEqual([
      [fp(acme.root), []],
      [fp(acme.intermediate), []],
      [fp(sub), ['chain.path-length']],
    ]);
    expect(store.keys(KEYS.truststore)).toEqual([]);

    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    expect(truststoreFingerprints()).toEqual([fp(acme.root), fp(acme.intermediate)].sort());
    const later = await ingestUploads([await drop('inbox/acme/sub.pem', sub.pem)], deps);
    // Rejected for good, not held: no later upload can make it acceptable.
    expect(later.uploads[0]).toMatchObject({ outcome: 'rejected' });
    expect(later.changed).toBe(false);
    expect(truststoreFingerprints()).toEqual([fp(acme.root), fp(acme.intermediate)].sort());
    const saved = JSON.parse(store.text(keptKey('rejected/acme/sub.pem', '.report.json')));
    expect(saved.certificates[0].findings).toMatchObject([
      { code: 'chain.path-length', message: expect.stringContaining('"CN=Acme Issuing CA,O=Acme"') },
    ]);
    expect(notifier.sent.at(-1)!.subject).toMatch(/upload rejected: acme\/sub\.pem \(chain\.path-length\)/);
  });

  it('destroys a private-key upload (no version left), keeps only its certificates and alerts without key material', async () => {
    const key = privateKeyPem(acme.client);
    const ref = await drop('inbox/acme/oops.pem', `${acme.client.pem}${key}`);
    const report = await ingestUploads([ref], deps);
    expect(report.uploads[0]).toMatchObject({ outcome: 'private-key' });
    expect(store.keys('inbox/')).toEqual([]);
    expect(store.keys('archive/')).toEqual([]);
    expect(kept('rejected/')).toEqual([
      'rejected/acme/oops.pem@tag.pem',
      'rejected/acme/oops.pem@tag.report.json',
    ]);
    expect(store.text(keptKey('rejected/', '.pem'))).toBe(acme.client.pem.replace(/\n*$/, '\n'));
    const secret = key.split('\n')[1]!;
    const stillStored = store.allBytes().toString('latin1');
    // Not even a noncurrent version of the inbox object is left.
    expect(stillStored).not.toContain(secret);
    expect(store.objects.has('inbox/acme/oops.pem')).toBe(false);
    expect(store.text(keptKey('rejected/', '.report.json'))).not.toContain(secret);
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]).toMatchObject({
      eventType: 'upload.private-key',
      severity: 'critical',
      partner: 'acme',
    });
    expect(JSON.stringify(notifier.sent)).not.toContain(secret);
  });

  it('rolls back a domain whose new version brings truststore warnings the previous one did not have', async () => {
    const first = await ingestUploads(
      [await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate))],
      deps,
    );
    gateway.warningsFor = (version) =>
      version === first.version ? [] : ['Certificate CN=Beta Root CA is invalid'];
    const second = await ingestUploads(
      [await drop('inbox/beta/b.pem', pemOf(beta.root, beta.intermediate))],
      deps,
    );
    expect(second.roll?.domains).toMatchObject([
      {
        outcome: 'rolled-back',
        from: first.version,
        to: second.version,
        newWarnings: ['Certificate CN=Beta Root CA is invalid'],
      },
    ]);
    expect(gateway.calls.map((c) => c.version)).toEqual([first.version, second.version, first.version]);
    const failed = notifier.sent.find((n) => n.eventType === 'truststore.roll-failed')!;
    expect(failed.severity).toBe('error');
    expect(failed.body).toContain(first.version!);
    expect(failed.body).toContain(second.version!);
  });

  it('retries a throttled roll with backoff and respects the 30 s pacing between updates', async () => {
    gateway.throttle = 2;
    const report = await ingestUploads(
      [await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate))],
      deps,
    );
    expect(report.roll?.domains).toMatchObject([{ outcome: 'rolled' }]);
    expect(gateway.calls).toHaveLength(1);
    // Backoff 2 s, then the rest of the 30 s pacing since the throttled call; backoff 4 s, pacing again.
    expect(clock.sleeps.slice(0, 4)).toEqual([2000, 28000, 4000, 26000]);
    expect(state().lastRollAt).toBe(new Date(NOW.getTime() + 60_000).toISOString());
    // The next run, 5 s later, waits out the pacing remembered in the state before its update.
    clock.sleeps.length = 0;
    const second = await ingestUploads(
      [await drop('inbox/beta/b.pem', pemOf(beta.root, beta.intermediate))],
      deps,
    );
    expect(second.roll?.domains).toMatchObject([{ outcome: 'rolled' }]);
    const pacing = clock.sleeps.find((ms) => ms > 1000)!;
    expect(pacing).toBeGreaterThan(0);
    expect(pacing).toBeLessThanOrEqual(30_000);
  });

  it('lets two concurrent runs both land by re-judging after a lost compare-and-set', async () => {
    const a = await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate));
    const b = await drop('inbox/beta/b.pem', pemOf(beta.root, beta.intermediate));
    const [ra, rb] = await Promise.all([ingestUploads([a], deps), ingestUploads([b], deps)]);
    expect([ra.uploads[0]!.outcome, rb.uploads[0]!.outcome]).toEqual(['accepted', 'accepted']);
    expect(truststoreFingerprints()).toEqual(
      [acme.root, acme.intermediate, beta.root, beta.intermediate].map(fp).sort(),
    );
    expect(state().revision).toBe(2);
  });

  it('rejects an inbox file outside a partner folder with a clear reason', async () => {
    const report = await ingestUploads([await drop('inbox/loose.pem', acme.root.pem)], deps);
    expect(report.uploads[0]).toMatchObject({ outcome: 'rejected' });
    expect(untag(report.uploads[0]!.movedTo)).toBe('rejected/_unsorted/inbox_loose.pem@tag.pem');
    expect(report.uploads[0]!.findings[0]!.message).toMatch(/partner folder/);
  });

  it('refuses an upload over the size limit without reading it, and keeps it under rejected/', async () => {
    const reads: string[] = [];
    store.beforeOp = (op, key) => {
      if (op === 'get') reads.push(key);
    };
    const big = await drop('inbox/acme/huge.pem', new Uint8Array(3 * 1024 * 1024).fill(0x41));
    const report = await ingestUploads([big], deps);
    expect(report.uploads[0]).toMatchObject({ outcome: 'rejected' });
    // Refused unread: only its report is kept (with its size), not a byte of it.
    expect(kept('rejected/')).toEqual(['rejected/acme/huge.pem@tag.report.json']);
    expect(JSON.parse(store.text(keptKey('rejected/', '.report.json')))).toMatchObject({
      size: 3 * 1024 * 1024,
    });
    expect(store.allBytes().includes(Buffer.alloc(1024, 0x41))).toBe(false);
    expect(report.uploads[0]!.findings[0]).toMatchObject({ code: 'input.too-large' });
    expect(reads).not.toContain('inbox/acme/huge.pem');
  });

  it('keeps an alert whose delivery failed and delivers it on the next run, once', async () => {
    notifier.fail = 1;
    const first = await ingestUploads(
      [await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate))],
      deps,
    );
    expect(first.errors.join()).toMatch(/notification upload\.accepted/);
    expect(state().outbox?.map((n) => n.eventType)).toEqual(['upload.accepted']);
    await ingestUploads([], deps);
    expect(notifier.types().filter((t) => t === 'upload.accepted')).toHaveLength(1);
    expect(state().outbox).toEqual([]);
  });

  it('rotates a re-keyed intermediate only when the upload says replace, and alerts what breaks', async () => {
    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { keySlot: 'acme-rekeyed' });
    const plain = await ingestUploads([await drop('inbox/acme/new-int.pem', rekeyed.pem)], deps);
    expect(plain.uploads[0]!.outcome).toBe('rejected');
    expect(plain.uploads[0]!.certificates[0]!.findings.map((f) => f.code)).toContain(
      'truststore.duplicate-subject',
    );
    expect(plain.uploads[0]!.findings.map((f) => f.code)).toContain('truststore.replace-hint');
    const rotated = await ingestUploads([await drop('inbox/acme/replace/new-int.pem', rekeyed.pem)], deps);
    expect(rotated.uploads[0]!.outcome).toBe('accepted');
    expect(truststoreFingerprints()).toEqual([acme.root, rekeyed].map(fp).sort());
    expect(state().history.at(-1)).toMatchObject({ added: [fp(rekeyed)], removed: [fp(acme.intermediate)] });
    expect(state().removedEntries?.map((e) => e.fingerprint)).toContain(fp(acme.intermediate));
    const alert = notifier.sent.filter((n) => n.eventType === 'upload.accepted').at(-1)!;
    expect(alert.body).toMatch(/REPLACES \(rotation\)[\s\S]*Clients issued under the replaced CA fail/);
  });

  it('keeps provenance straight when a rotation is rotated back: only the CA now gone is listed as removed', async () => {
    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { keySlot: 'acme-rekeyed-3' });
    await ingestUploads([await drop('inbox/acme/replace/new.pem', rekeyed.pem)], deps);
    const back = await ingestUploads([await drop('inbox/acme/replace/old.pem', acme.intermediate.pem)], deps);
    expect(back.uploads[0]!.outcome).toBe('accepted');
    expect(truststoreFingerprints()).toEqual([acme.root, acme.intermediate].map(fp).sort());
    expect(state().removedEntries?.map((e) => e.fingerprint)).toEqual([fp(rekeyed)]);
    expect(state().history.at(-1)).toMatchObject({ added: [fp(acme.intermediate)], removed: [fp(rekeyed)] });
  });

  it("never lets one partner's replace-upload take the place of another partner's CA", async () => {
    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    const impostor = await root('CN=Acme Root CA,O=Acme', { keySlot: 'evil-root' });
    const report = await ingestUploads([await drop('inbox/evil/replace/x.pem', impostor.pem)], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.certificates[0]!.findings.map((f) => f.code)).toContain('ca.other-partner');
    expect(truststoreFingerprints()).toEqual([acme.root, acme.intermediate].map(fp).sort());
    expect(state().entries.every((e) => e.partner === 'acme')).toBe(true);
  });

  it("refuses a partner's upload of another partner's intermediate, and lets the owner upload it after", async () => {
    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    await ingestUploads([await drop('inbox/beta/root.pem', pemOf(beta.root))], deps);
    const claim = await ingestUploads([await drop('inbox/acme/theirs.pem', pemOf(beta.intermediate))], deps);
    expect(claim.uploads[0]!.outcome).toBe('rejected');
    const sent = notifier.sent.at(-1)!;
    expect(sent.subject).toBe('[trustroll] upload rejected: acme/theirs.pem (ca.other-partner)');
    expect(sent.body).toMatch(
      /is in the truststore for another partner: .*that partner must upload it \(to its own inbox folder\)/,
    );
    // Addressed to acme (its subscription): the other partner's name is not in it.
    expect(sent.body.replace(/CN=Beta [A-Za-z ]+,O=Beta/g, '')).not.toMatch(/beta/i);
    expect(
      state()
        .entries.filter((e) => e.partner === 'acme')
        .map((e) => e.fingerprint)
        .sort(),
    ).toEqual([acme.root, acme.intermediate].map(fp).sort());
    const own = await ingestUploads([await drop('inbox/beta/int.pem', pemOf(beta.intermediate))], deps);
    expect(own.uploads[0]!.outcome).toBe('accepted');
    expect(state().entries.find((e) => e.fingerprint === fp(beta.intermediate))!.partner).toBe('beta');
  });

  it('rotates with the replace flag of the upload reference (trustroll ingest --replace)', async () => {
    await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { keySlot: 'acme-rekeyed-2' });
    const ref = await drop('inbox/acme/new.pem', rekeyed.pem);
    const report = await ingestUploads([{ ...ref, replace: true }], deps);
    expect(report.uploads[0]!.outcome).toBe('accepted');
    expect(truststoreFingerprints()).toEqual([acme.root, rekeyed].map(fp).sort());
  });

  /** Root R, intermediate I, sub-CA J (no path length limits), as the breaker's bundle. */
  const threeDeep = async (tag: string) => {
    const r = await root('CN=Rot Root,O=Rot', { keySlot: `${tag}-r` });
    const i = await intermediate('CN=Rot Issuing,O=Rot', r, { keySlot: `${tag}-i`, pathLen: 1 });
    const j = await intermediate('CN=Rot Sub,O=Rot', i, { keySlot: `${tag}-j` });
    await ingestUploads([await drop('inbox/rot/bundle.pem', pemOf(r, i, j))], deps);
    expect(truststoreFingerprints()).toEqual([r, i, j].map(fp).sort());
    return { r, i, j };
  };
  const publishedPassesLint = () =>
    lintInputs([{ name: 't', bytes: toBytes(store.text(KEYS.truststore)) }], { at: NOW }).ok;

  it('refuses a replace-upload whose re-keyed root would leave the intermediate under it failing lint', async () => {
    const { r, i, j } = await threeDeep('rk');
    const rekeyed = await root('CN=Rot Root,O=Rot', { keySlot: 'rk-r2' });
    const report = await ingestUploads([await drop('inbox/rot/replace/root.pem', rekeyed.pem)], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.changed).toBe(false);
    const finding = report.uploads[0]!.findings.find((f) => f.code === 'truststore.breaks-entry');
    expect(finding?.message).toMatch(/Rot Issuing.*signature\.invalid/);
    expect(truststoreFingerprints()).toEqual([r, i, j].map(fp).sort());
    expect(publishedPassesLint()).toBe(true);
    // Rotating the whole chain at once is a valid rotation.
    const i2 = await intermediate('CN=Rot Issuing,O=Rot', rekeyed, { keySlot: 'rk-i2', pathLen: 1 });
    const j2 = await intermediate('CN=Rot Sub,O=Rot', i2, { keySlot: 'rk-j2' });
    const whole = await ingestUploads(
      [await drop('inbox/rot/replace/all.pem', pemOf(rekeyed, i2, j2))],
      deps,
    );
    expect(whole.uploads[0]!.outcome).toBe('accepted');
    expect(truststoreFingerprints()).toEqual([rekeyed, i2, j2].map(fp).sort());
    expect(publishedPassesLint()).toBe(true);
  });

  it('refuses a replace-upload of the same root with pathLenConstraint 0 above an intermediate that issues CAs', async () => {
    const { r, i, j } = await threeDeep('pl');
    // Same key, so the intermediate's signature still verifies: only the new limit breaks it.
    const strict = await root('CN=Rot Root,O=Rot', { keySlot: 'pl-r', pathLen: 0 });
    const report = await ingestUploads([await drop('inbox/rot/replace/strict.pem', strict.pem)], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    const messages = report.uploads[0]!.findings.filter((f) => f.code === 'truststore.breaks-entry');
    expect(messages.map((f) => f.message).join()).toMatch(/chain\.path-length/);
    expect(truststoreFingerprints()).toEqual([r, i, j].map(fp).sort());
    expect(publishedPassesLint()).toBe(true);
  });

  it("refuses only the upload that does not fit the truststore's size limit, not the rest of the batch", async () => {
    // Self-signed roots with long (but ordinary) names: about 2.2 KB of PEM each, one key for all.
    const ou = (n: number) => `OU=${String.fromCharCode(65 + n).repeat(200)}`;
    const bulk: Issued[] = [];
    for (let n = 0; n < 480; n++)
      bulk.push(
        await root(`CN=Bulk Root ${n},${[0, 1, 2, 3].map(ou).join(',')},O=Bulk`, { keySlot: 'bulk' }),
      );
    const big = pemOf(...bulk);
    expect(big.length).toBeGreaterThan(1_000_000);
    expect(big.length).toBeLessThan(2 * 1024 * 1024);
    const report = await ingestUploads(
      [
        await drop('inbox/bulk/all.pem', big),
        await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate)),
      ],
      deps,
    );
    const [bulkReport, acmeReport] = report.uploads;
    expect(acmeReport!.outcome).toBe('accepted');
    expect(bulkReport!.outcome).toBe('rejected');
    const finding = bulkReport!.findings.find((f) => f.code === 'truststore.too-large');
    expect(finding?.message).toMatch(
      /This upload adds 1\d{3} KB .* limit of about 1000 KB \(1000000 bytes\)/,
    );
    expect(truststoreFingerprints()).toEqual([acme.root, acme.intermediate].map(fp).sort());
    // Whatever the order in the batch: the big one is refused, the small one admitted.
    const again = await ingestUploads(
      [
        await drop('inbox/bulk/again.pem', big),
        await drop('inbox/beta/ca.pem', pemOf(beta.root, beta.intermediate)),
      ],
      deps,
    );
    expect(again.uploads.map((u) => u.outcome)).toEqual(['rejected', 'accepted']);
  }, 120_000);

  it('reports a notification failure without undoing the committed truststore', async () => {
    notifier.fail = 5;
    const report = await ingestUploads(
      [await drop('inbox/acme/a.pem', pemOf(acme.root, acme.intermediate))],
      deps,
    );
    expect(report.changed).toBe(true);
    expect(report.errors.join()).toMatch(/notification upload\.accepted/);
    expect(truststoreFingerprints()).toHaveLength(2);
  });
});

describe('an upload that cannot be read', () => {
  const failRead = (cause: object) => {
    store.beforeOp = (op, key) => {
      if (op === 'get' && key === 'inbox/acme/bundle.pem')
        throw new UpstreamError(`reading ${key}`, { cause });
    };
  };

  it.each([
    ['too many open files', { code: 'EMFILE' }],
    ['S3 throttling', { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }],
    ['an S3 internal error', { $metadata: { httpStatusCode: 500 } }],
  ])('is kept for the next run when the read may work then (%s): never rejected for it', async (_, cause) => {
    const ref = await drop('inbox/acme/bundle.pem', pemOf(acme.root, acme.intermediate));
    failRead(cause);
    await expect(ingestUploads([ref], deps)).rejects.toThrow(/reading inbox\/acme\/bundle.pem/);
    expect(versionsOf('inbox/acme/bundle.pem')).toBe(1);
    expect(store.keys('rejected/')).toEqual([]);
    store.beforeOp = () => {};
    const retried = await ingestUploads([ref], deps);
    expect(retried.uploads[0]!.outcome).toBe('accepted');
  });

  it.each([
    ['permissions', { code: 'EACCES', path: '/inbox/acme/bundle.pem' }],
    ["S3's 403 (a foreign KMS key)", { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }],
  ])('is rejected with the reason when the read is refused for good (%s)', async (_, cause) => {
    const ref = await drop('inbox/acme/bundle.pem', pemOf(acme.root, acme.intermediate));
    failRead(cause);
    const report = await ingestUploads([ref], deps);
    expect(report.uploads[0]).toMatchObject({ outcome: 'rejected' });
    expect(report.uploads[0]!.findings.map((f) => f.code)).toEqual(['input.unreadable']);
  });
});
