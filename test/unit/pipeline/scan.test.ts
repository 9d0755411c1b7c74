import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nextRevision } from '../../../shared/pipeline/revision.js';
import { previewScan, type ScanDeps, scanExpiry } from '../../../shared/pipeline/scan.js';
import {
  loadState,
  publishTruststore,
  recordVersion,
  saveState,
  sha256,
} from '../../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { readInput } from '../../../shared/pki/read.js';
import { type Entry, emptyState, entryOf, KEYS, renderState } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { DAY, days, type Issued, intermediate, NOW, root, toBytes } from '../../fixtures/pki.js';

/**
 * Two partners: Alpha's intermediate expires (day 45) long before its root (day 400);
 * Beta's root expires (day 20) before the intermediate under it (day 300).
 */
let alpha: { root: Issued; int: Issued };
let beta: { root: Issued; int: Issued };
beforeAll(async () => {
  const ar = await root('CN=Alpha Root,O=Alpha', { notAfter: days(400) });
  alpha = { root: ar, int: await intermediate('CN=Alpha Issuing,O=Alpha', ar, { notAfter: days(45) }) };
  const br = await root('CN=Beta Root,O=Beta', { notAfter: days(20) });
  beta = { root: br, int: await intermediate('CN=Beta Issuing,O=Beta', br, { notAfter: days(300) }) };
});

const entry = (i: Issued, partner: string): Entry =>
  entryOf(parseCertificate(i.der), {
    partner,
    upload: { key: `inbox/${partner}/ca.pem`, version: '1' },
    addedAt: NOW.toISOString(),
    findings: [],
  });

let store: MemoryStore;
let clock: FakeClock;
let notifier: MemoryNotifier;
let gateway: FakeGateway;
const deps = (config: ScanDeps['config'] = {}): ScanDeps => ({
  store,
  clock,
  log: memoryLog(),
  notifier,
  gateway,
  config,
});

const seed = async (entries: Entry[]) => {
  const state = {
    ...emptyState(),
    revision: 1,
    entries,
    history: [
      {
        revision: 1,
        sha256: sha256(renderState(entries)),
        at: NOW.toISOString(),
        reason: 'seed',
        added: [],
        removed: [],
      },
    ],
  };
  await saveState(store, state, undefined);
  const version = await publishTruststore(store, state, memoryLog());
  await recordVersion(store, 1, version!);
  gateway.domains.get('api.example.com')!.version = version;
  return version!;
};

beforeEach(() => {
  store = new MemoryStore();
  clock = new FakeClock(NOW.getTime());
  notifier = new MemoryNotifier();
  gateway = new FakeGateway('api.example.com');
});

const fp = (i: Issued) => parseCertificate(i.der).fingerprint;
const alertsFor = (i: Issued) => notifier.sent.filter((n) => n.id.includes(fp(i)));

describe('previewScan', () => {
  it('says what a scan at another moment would alert, writes nothing, and leaves those alerts to the real scan', async () => {
    await seed([entry(alpha.root, 'alpha'), entry(alpha.int, 'alpha')]);
    const ops: string[] = [];
    store.beforeOp = (op) => void ops.push(op);
    const later = await previewScan({ store, clock: { now: () => days(40) } });
    expect(later.wouldAlert.map((n) => n.subject)).toEqual([
      '[trustroll] CA expires in 5 days: CN=Alpha Issuing,O=Alpha (alpha)',
    ]);
    expect(ops.every((op) => op === 'get')).toBe(true);
    store.beforeOp = () => {};
    clock.advance(20 * DAY);
    await scanExpiry(deps());
    expect(alertsFor(alpha.int).map((n) => n.subject)).toEqual([
      '[trustroll] CA expires in 25 days: CN=Alpha Issuing,O=Alpha (alpha)',
    ]);
  });
});

describe('scanExpiry walking days forward', () => {
  it('alerts each threshold once per crossing, with rising severity, and nothing on re-runs', async () => {
    await seed([entry(alpha.root, 'alpha'), entry(alpha.int, 'alpha')]);
    for (let d = 0; d <= 50; d++) {
      await scanExpiry(deps());
      await scanExpiry(deps()); // a retried Lambda or a second scan the same day
      clock.advance(DAY);
    }
    const alerts = alertsFor(alpha.int);
    expect(alerts.map((n) => n.eventType)).toEqual([...Array(6).fill('ca.expiring'), 'ca.expired']);
    expect(alerts.map((n) => n.severity)).toEqual([
      'info',
      'warning',
      'warning',
      'warning',
      'warning',
      'warning',
      'error',
    ]);
    expect(alerts.map((n) => /in (\d+) days?/.exec(n.subject)?.[1] ?? 'expired')).toEqual([
      '45',
      '30',
      '14',
      '7',
      '3',
      '1',
      'expired',
    ]);
    expect(alerts.every((n) => n.partner === 'alpha')).toBe(true);
    expect(alertsFor(alpha.root)).toEqual([]);
    const { state } = await loadState(store);
    expect(state.expiryAlerts?.[fp(alpha.int)]?.level).toBe(0);
  });

  it('stops alerting for a CA once it is replaced by its renewal', async () => {
    await seed([entry(alpha.root, 'alpha'), entry(alpha.int, 'alpha')]);
    await scanExpiry(deps());
    expect(alertsFor(alpha.int)).toHaveLength(1);
    const renewed = await intermediate('CN=Alpha Issuing,O=Alpha', alpha.root, {
      notAfter: days(800),
      keySlot: 'renewed',
    });
    const { state, etag } = await loadState(store);
    // The rotation as a revision of its own (a state edited without one is refused as damaged).
    await saveState(
      store,
      nextRevision(state, {
        entries: [entry(alpha.root, 'alpha'), entry(renewed, 'alpha')],
        removed: [entry(alpha.int, 'alpha')],
        added: [entry(renewed, 'alpha')],
        reason: 'rotation',
        at: clock.now(),
      }),
      etag,
    );
    for (let d = 0; d < 60; d++) {
      clock.advance(DAY);
      await scanExpiry(deps());
    }
    expect(alertsFor(alpha.int)).toHaveLength(1);
    expect(alertsFor(renewed)).toEqual([]);
    expect(Object.keys((await loadState(store)).state.expiryAlerts ?? {})).toEqual([]);
  });

  it('says which clients break when a root expires before the intermediates under it', async () => {
    await seed([entry(beta.root, 'beta'), entry(beta.int, 'beta')]);
    const report = await scanExpiry(deps());
    const rootAlert = alertsFor(beta.root)[0]!;
    expect(rootAlert.body).toContain(
      'client certificates issued by CN=Beta Issuing,O=Beta (partner beta), although that CA itself is valid until',
    );
    expect(rootAlert.body).toContain('upload it to inbox/beta/');
    const intLine = report.entries.find((l) => l.fingerprint === fp(beta.int))!;
    expect(intLine.chainBreaksBecause).toBe('CN=Beta Root,O=Beta');
    expect(intLine.chainBreaksAt).toBe(days(20).toISOString());
    // The intermediate itself is 300 days away: no alert of its own yet.
    expect(alertsFor(beta.int)).toEqual([]);
  });

  it('says when an intermediate expires before its root', async () => {
    await seed([entry(alpha.root, 'alpha'), entry(alpha.int, 'alpha')]);
    const report = await scanExpiry(deps());
    expect(report.entries[0]).toMatchObject({
      subject: 'CN=Alpha Issuing,O=Alpha',
      days: 45,
      chainBreaksBecause: 'CN=Alpha Issuing,O=Alpha',
    });
    expect(alertsFor(alpha.int)[0]!.body).toMatch(/expires on \d{4}-\d{2}-\d{2}, in 45 days/);
  });

  it('prunes exactly the expired CAs and their orphans, in one version rolled once', async () => {
    const first = await seed([
      entry(alpha.root, 'alpha'),
      entry(alpha.int, 'alpha'),
      entry(beta.root, 'beta'),
      entry(beta.int, 'beta'),
    ]);
    clock.advance(21 * DAY); // Beta's root has expired; Beta's intermediate is valid but orphaned.
    const report = await scanExpiry(
      deps({
        prune: true,
        roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0, pollIntervalMs: 1 },
      }),
    );
    expect([...report.pruned].sort()).toEqual([fp(beta.root), fp(beta.int)].sort());
    const truststore = readInput({ name: 't', bytes: toBytes(store.text(KEYS.truststore)) }).certificates.map(
      (c) => c.cert.subject.text,
    );
    expect(truststore.sort()).toEqual(['CN=Alpha Issuing,O=Alpha', 'CN=Alpha Root,O=Alpha']);
    expect(gateway.calls).toEqual([{ domain: 'api.example.com', version: report.version }]);
    expect(report.version).not.toBe(first);
    const pruneAlert = notifier.sent.find((n) => n.eventType === 'truststore.pruned')!;
    expect(pruneAlert.body).toMatch(/CN=Beta Root,O=Beta .*expired on/);
    expect(pruneAlert.body).toMatch(/CN=Beta Issuing,O=Beta .*no path to a root left/);
    expect((await loadState(store)).state.history.at(-1)).toMatchObject({
      removed: expect.arrayContaining([fp(beta.root)]),
    });
    // Pruned CAs stay known for history and diff.
    expect((await loadState(store)).state.removedEntries?.map((e) => e.fingerprint).sort()).toEqual(
      [fp(beta.root), fp(beta.int)].sort(),
    );
    // The next scan finds nothing more to prune.
    const again = await scanExpiry(
      deps({ prune: true, roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0 } }),
    );
    expect(again.pruned).toEqual([]);
    expect(gateway.calls).toHaveLength(1);
  });

  it('reports a domain that serves a version trustroll never published (drift)', async () => {
    await seed([entry(alpha.root, 'alpha'), entry(alpha.int, 'alpha')]);
    const clean = await scanExpiry(deps({ roll: { domains: ['api.example.com'] } }));
    expect(clean.drift).toEqual([]);
    gateway.domains.get('api.example.com')!.version = 'edited-by-hand';
    const report = await scanExpiry(deps({ roll: { domains: ['api.example.com'] } }));
    expect(report.drift).toMatchObject([
      { name: 'api.example.com', truststoreVersion: 'edited-by-hand', latest: false },
    ]);
    const alert = notifier.sent.find((n) => n.eventType === 'truststore.drift')!;
    expect(alert.subject).toMatch(
      /^\[trustroll\] api\.example\.com drifted: serves truststore version edited-by-hand/,
    );
    expect(alert.subject.length).toBeLessThanOrEqual(100);
    expect(alert.body).toMatch(/serves truststore version edited-by-hand, which trustroll never published/);
    expect(gateway.calls).toEqual([]);
  });

  it('does not prune when that would leave the truststore failing lint (every CA expired: empty), and says why', async () => {
    const first = await seed([entry(beta.root, 'beta'), entry(beta.int, 'beta')]);
    clock.advance(21 * DAY);
    const report = await scanExpiry(
      deps({
        prune: true,
        roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0, pollIntervalMs: 1 },
      }),
    );
    expect(report.pruned).toEqual([]);
    expect(report.errors[0]).toMatch(
      /pruning 2 expired or orphaned CA\(s\) was not done: .*truststore\.empty/,
    );
    expect(report.certificates).toBe(2);
    expect(report.version).toBe(first);
    expect(gateway.calls).toEqual([]);
    expect(alertsFor(beta.root).map((n) => n.eventType)).toEqual(['ca.expired']);
  });

  it('removes nothing when pruning is off, even when CAs have expired', async () => {
    await seed([entry(beta.root, 'beta'), entry(beta.int, 'beta')]);
    clock.advance(30 * DAY);
    const report = await scanExpiry(deps());
    expect(report.pruned).toEqual([]);
    expect(report.certificates).toBe(2);
    expect(gateway.calls).toEqual([]);
    expect(alertsFor(beta.root).map((n) => n.eventType)).toEqual(['ca.expired']);
  });
});
