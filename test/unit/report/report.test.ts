import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { removeCas } from '../../../shared/pipeline/lifecycle.js';
import { REPORT_KEYS, storeReport } from '../../../shared/pipeline/report.js';
import { revokeCertificate, setPartnerRules } from '../../../shared/pipeline/revocation.js';
import { expiryLines, scanExpiry } from '../../../shared/pipeline/scan.js';
import { renderedOf } from '../../../shared/pipeline/state-store.js';
import { parseCertificate, pemToDer, publicKeyOf } from '../../../shared/pki/certificate.js';
import { CSV_COLUMNS, csvField } from '../../../shared/report/csv.js';
import { buildReport, REPORT_SCHEMA, type Report, renderReport } from '../../../shared/report/index.js';
import { keyLabel } from '../../../shared/report/model.js';
import type { TruststoreState } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { crl, intermediate, NOW, partnerChain, pemBlock, pemOf, root, toBytes } from '../../fixtures/pki.js';
import { EVIL_SUBJECT, largeState, type ReportFixture, reportFixture } from '../../fixtures/report-state.js';
import { manyRollouts } from '../../fixtures/rollout-records.js';

/** RFC 4180 records (quoted fields with doubled quotes, CRLF line ends). */
const parseCsv = (text: string): string[][] => {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  expect(field).toBe('');
  return rows;
};

let fixture: ReportFixture;
let state: TruststoreState;
let report: Report;
beforeAll(async () => {
  fixture = await reportFixture();
  state = fixture.state;
  report = buildReport(state, { now: NOW, store: 's3://bucket/prod' });
}, 120_000);

describe('the report model', () => {
  it('holds every CA of the state once, with its partner, dates and provenance', () => {
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.cas).toHaveLength(state.entries.length);
    expect(new Set(report.cas.map((c) => c.fingerprint))).toEqual(
      new Set(state.entries.map((e) => e.fingerprint)),
    );
    for (const e of state.entries) {
      const ca = report.cas.find((c) => c.fingerprint === e.fingerprint)!;
      expect(ca).toMatchObject({
        partner: e.partner,
        subject: e.subject,
        issuer: e.issuer,
        notBefore: e.notBefore,
        notAfter: e.notAfter,
        addedAt: e.addedAt,
        upload: e.upload,
      });
    }
    expect(report.partners.map((p) => [p.name, p.cas])).toEqual([
      ['acme', 2],
      ['beta', 3],
      ['evil', 1],
    ]);
    expect(report.cas.map((c) => c.key)).toEqual([
      'EC P-256',
      'EC P-256',
      'EC P-384',
      'EC P-384',
      'EC P-384',
      'EC P-256',
    ]);
  });

  it("counts days and thresholds from the report's moment, as the expiry scan does", () => {
    const lines = expiryLines(state.entries, NOW);
    for (const l of lines) {
      const ca = report.cas.find((c) => c.fingerprint === l.fingerprint)!;
      expect([ca.days, ca.chainBreaksAt, ca.chainBreaksBecause]).toEqual([
        l.days,
        l.chainBreaksAt,
        l.chainBreaksBecause,
      ]);
    }
    const short = report.cas.find((c) => c.subject === 'CN=Beta Short CA,O=Beta')!;
    expect([short.days, short.threshold, short.notAfter]).toEqual([20, 30, '2026-06-21T00:00:00.000Z']);
    expect(report.window).toEqual({ from: '2026-06-01T00:00:00.000Z', to: '2027-07-01T00:00:00.000Z' });
    expect(report.thresholds).toEqual([60, 30, 14, 7, 3, 1]);
  });

  it('says where clients break before their CA expires: an issuing CA outliving its root', () => {
    const issuing = report.cas.find((c) => c.subject === 'CN=Acme Issuing CA,O=Acme')!;
    expect(issuing).toMatchObject({
      breaksEarly: true,
      notAfter: '2027-03-28T00:00:00.000Z',
      chainBreaksAt: '2026-09-09T00:00:00.000Z',
      chainBreaksBecause: 'CN=Acme Root CA,O=Acme',
      chainLength: 2,
    });
    expect(report.cas.filter((c) => c.breaksEarly)).toHaveLength(1);
    expect(report.warnings.find((w) => w.code === 'chain.breaks-early')?.fingerprint).toBe(
      issuing.fingerprint,
    );
  });

  it('measures the size headroom and the chain length against the limits lint uses', () => {
    const bytes = Buffer.byteLength(renderedOf(state.entries).body);
    expect(report.truststore).toMatchObject({
      revision: state.revision,
      certificates: 6,
      bytes,
      limitBytes: 1_000_000,
      headroomBytes: 1_000_000 - bytes,
      longestChain: 2,
      maxChain: 4,
    });
  });

  it('lists the history newest first with what changed and why, the stale CRL and the open warnings', () => {
    expect(report.history.map((h) => h.reason)).toEqual([
      'removal requested by ops: contract ended',
      'uploads inbox/gamma/gamma.pem',
      'uploads inbox/evil/evil.pem',
      'uploads inbox/beta/beta-ca.pem',
      'uploads inbox/acme/acme-ca.pem',
    ]);
    expect(report.history[0]!.removed.map((r) => r.partner)).toEqual(['gamma', 'gamma']);
    expect(report.crls).toEqual([
      expect.objectContaining({
        issuer: 'CN=Beta Short CA,O=Beta',
        partner: 'beta',
        number: '7',
        stale: true,
        nextUpdate: '2026-05-31T00:00:00.000Z',
      }),
    ]);
    expect(report.warnings.map((w) => w.code)).toEqual(['crl.stale', 'ca.expiring', 'chain.breaks-early']);
    // Not asked: the report does not pretend the domains were checked.
    expect(report.domains).toBeUndefined();
  });

  it('is a function of the state and the moment: the same bytes every time', () => {
    const again = buildReport(state, { now: NOW, store: 's3://bucket/prod' });
    for (const format of ['html', 'json', 'csv'] as const)
      expect(renderReport(again, format)).toBe(renderReport(report, format));
  });
});

describe('the key column', () => {
  it('reads the key of a certificate as the full parse does, for RSA, EC and EdDSA', async () => {
    const certs = [
      ...state.entries.map((e) => pemToDer(e.pem)),
      (await root('CN=RSA Root', { key: 'rsa2048' })).der,
      (await root('CN=Ed Root', { key: 'ed25519' })).der,
    ];
    for (const der of certs) expect(publicKeyOf(der)).toEqual(parseCertificate(der).publicKey);
    expect(keyLabel(publicKeyOf(certs.at(-2)!))).toBe('RSA 2048');
    expect(keyLabel(publicKeyOf(certs.at(-1)!))).toBe('Ed25519');
  });
});

describe('the JSON and the CSV', () => {
  it('JSON is the model, whole', () => {
    expect(JSON.parse(renderReport(report, 'json'))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('CSV has a header and one row per CA, with the values of the state', () => {
    const [head, ...rows] = parseCsv(renderReport(report, 'csv'));
    expect(head).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(state.entries.length);
    const col = (row: string[], name: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(name)]!;
    for (const e of state.entries) {
      const row = rows.find((r) => col(r, 'sha256') === e.fingerprint)!;
      expect(col(row, 'partner')).toBe(e.partner);
      expect(col(row, 'subject')).toBe(e.subject);
      expect(col(row, 'not_after')).toBe(e.notAfter);
      expect(col(row, 'added_at')).toBe(e.addedAt);
      expect(col(row, 'upload')).toBe(e.upload.key);
    }
  });

  it('neutralises fields a spreadsheet would run as a formula, and keeps numbers numbers', () => {
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvField('+1+1')).toBe("'+1+1");
    expect(csvField('-cmd|calc')).toBe("'-cmd|calc");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    // A tab is shown as an escape (as everywhere trustroll shows partner text): no cell starts with it.
    expect(csvField('\tx')).toBe('\\tx');
    expect(csvField(-3)).toBe('-3');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('line\nbreak')).toBe('line\\nbreak');
    expect(csvField('CN=Acme,O=Acme')).toBe('"CN=Acme,O=Acme"');
    // What is left as it is, and what only looks plain.
    expect(csvField('CN=Acme Root CA')).toBe('CN=Acme Root CA');
    expect(csvField('')).toBe('');
    expect(csvField('"quoted')).toBe('"""quoted"');
    expect(csvField('a"b')).toBe('"a""b"');
    expect(csvField(',lead')).toBe('",lead"');
    expect(csvField('caf\u00e9')).toBe('caf\u00e9');
    expect(csvField('x\u202ey')).toBe('x\\u202ey');
    expect(csvField('-5')).toBe('-5');
    expect(csvField('=')).toBe("'=");
  });

  it('neutralises a subject and a partner that start with = + - @ in every row they reach', () => {
    const hostile: TruststoreState = {
      ...state,
      entries: state.entries.map((e, i) =>
        i === 0 ? { ...e, subject: '=cmd|" /C calc"!A0', partner: '@evil', issuer: '+1' } : e,
      ),
    };
    const [, ...rows] = parseCsv(renderReport(buildReport(hostile, { now: NOW, store: 'x' }), 'csv'));
    const row = rows.find((r) => r[3] === state.entries[0]!.fingerprint)!;
    expect(row.slice(0, 3)).toEqual(["'@evil", '\'=cmd|" /C calc"!A0', "'+1"]);
    for (const r of rows) for (const field of r) expect(field).not.toMatch(/^[=+@]|^-(?!\d)/);
  });
});

describe('the HTML page', () => {
  const html = () => renderReport(report, 'html');

  it('escapes subjects and partner names: markup in a subject is text', () => {
    const page = html();
    expect(EVIL_SUBJECT).toContain('<script>');
    expect(page).not.toContain('<script');
    expect(page).toContain('&lt;script\\&gt;alert(1)\\&lt;/script\\&gt; &amp; co');
    const hostile = buildReport(
      {
        ...state,
        entries: state.entries.map((e, i) =>
          i === 0 ? { ...e, partner: '"><img src=x onerror=alert(1)>' } : e,
        ),
      },
      { now: NOW, store: '<b>store</b>' },
    );
    const page2 = renderReport(hostile, 'html');
    expect(page2).not.toMatch(/<img|<b>/);
    expect(page2).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  });

  it('is self-contained and accessible: lang, title, headings, table headers, a described chart', () => {
    const page = html();
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(page).toMatch(/<title>Truststore report: s3:\/\/bucket\/prod, revision 5<\/title>/);
    expect(page).not.toMatch(/<script|<link|<img|@import|url\(|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(page).toContain('<h1>');
    expect(page.match(/<h2 /g)).toHaveLength(8);
    expect(page).toContain('<th scope="col">Subject</th>');
    expect(page).toMatch(/<svg [^>]*role="img" aria-labelledby="chart-title chart-desc"/);
    expect(page).toMatch(/<desc id="chart-desc">6 CAs of 3 partners/);
  });

  it('draws one mark per CA, the thresholds and where clients break', () => {
    const page = html();
    expect(page.match(/class="ca-mark /g)).toHaveLength(state.entries.length);
    expect(page.match(/class="threshold"/g)).toHaveLength(6);
    expect(page.match(/class="break-mark"/g)).toHaveLength(1);
    expect(page).toContain('data-breaks="2026-09-09"');
  });
});

describe('published with every new version', () => {
  it('writes reports/index.html and reports/truststore.csv beside the truststore', async () => {
    const html = new TextDecoder().decode((await fixture.store.get(REPORT_KEYS.html)).body);
    const csv = new TextDecoder().decode((await fixture.store.get(REPORT_KEYS.csv)).body);
    expect(html).toContain(`revision ${state.revision}`);
    expect(parseCsv(csv)).toHaveLength(state.entries.length + 1);
    expect((await fixture.store.get(REPORT_KEYS.csv)).metadata.revision).toBe(String(state.revision));
  });

  it("names the store and marks the scan's own thresholds, as the pipeline is configured", async () => {
    const { root, intermediate } = await partnerChain('Kappa', { key: 'p256' });
    const store = new MemoryStore();
    const { version } = await store.put('inbox/kappa/ca.pem', toBytes(pemOf(root, intermediate)));
    await ingestUploads([{ key: 'inbox/kappa/ca.pem', version }], {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(NOW.getTime()),
      log: memoryLog(),
      label: 's3://prod-bucket/',
      expiryThresholds: [90, 45],
      config: { expiringDays: 30, roll: { domains: [] } },
    });
    const html = new TextDecoder().decode((await store.get(REPORT_KEYS.html)).body);
    expect(html).toContain('<title>Truststore report: s3://prod-bucket/, revision 1</title>');
    expect([...html.matchAll(/class="threshold" data-days="(\d+)"/g)].map((m) => m[1])).toEqual(['45', '90']);
  });

  it('follows a version the expiry scan publishes when it prunes', async () => {
    const { store } = await reportFixture();
    const before = (await store.get(REPORT_KEYS.csv)).metadata.revision;
    const scan = await scanExpiry({
      store,
      clock: new FakeClock(NOW.getTime() + 25 * 86_400_000),
      log: memoryLog(),
      notifier: new MemoryNotifier(),
      config: { prune: true },
    });
    expect(scan.pruned).toHaveLength(1);
    const csv = await store.get(REPORT_KEYS.csv);
    expect(Number(csv.metadata.revision)).toBe(Number(before) + 1);
    expect(new TextDecoder().decode(csv.body)).not.toContain('Beta Short CA');
  });

  it('a report that cannot be written fails neither the publish nor the roll: it is logged', async () => {
    const { root, intermediate } = await partnerChain('Delta', { key: 'p256' });
    const store = new MemoryStore();
    store.beforeOp = (op, key) => {
      if (op === 'put' && key.startsWith('reports/')) throw new Error('AccessDenied');
    };
    const gateway = new FakeGateway('api.example.com');
    const log = memoryLog();
    const { version } = await store.put('inbox/delta/ca.pem', toBytes(pemOf(root, intermediate)));
    const result = await ingestUploads([{ key: 'inbox/delta/ca.pem', version }], {
      store,
      gateway,
      notifier: new MemoryNotifier(),
      clock: new FakeClock(NOW.getTime()),
      log,
      config: {
        expiringDays: 30,
        roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0, pollIntervalMs: 1 },
      },
    });
    expect(result.version).toBeDefined();
    expect(result.errors).toEqual([]);
    expect(gateway.calls.map((c) => c.version)).toEqual([result.version]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'report not published',
        data: expect.objectContaining({ error: 'AccessDenied' }),
      }),
    );
  });
});

describe('revoked CAs', () => {
  it('shows a CA its root revoked (on its CRL, or by hand) as REVOKED in every format, reading only the CRLs of CAs that issue CAs', async () => {
    const lambda = await partnerChain('Lambda', { key: 'p256' });
    const mu = await partnerChain('Mu', { key: 'p256' });
    const store = new MemoryStore();
    const deps = {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(NOW.getTime()),
      log: memoryLog(),
      config: { roll: { domains: [] } },
    };
    const drop = async (key: string, body: string) => {
      const { version } = await store.put(key, toBytes(body));
      await ingestUploads([{ key, version }], deps);
    };
    await drop('inbox/lambda/ca.pem', pemOf(lambda.root, lambda.intermediate));
    await drop('inbox/mu/ca.pem', pemOf(mu.root, mu.intermediate));
    // Lambda's root lists its issuing CA; Mu's issuing CA lists a client (a CRL of clients).
    await drop(
      'inbox/lambda/crl/root.crl',
      pemBlock(
        'X509 CRL',
        await crl(lambda.root, [{ cert: lambda.intermediate, reason: 'keyCompromise' }], { crlNumber: 1 }),
      ),
    );
    await drop(
      'inbox/mu/crl/issuing.crl',
      pemBlock('X509 CRL', await crl(mu.intermediate, [mu.client], { crlNumber: 1 })),
    );
    const reads: string[] = [];
    store.beforeOp = (op, key) => {
      if (op === 'get' && key.startsWith('revocation/')) reads.push(key);
    };
    const report = await storeReport(store, { now: NOW, label: 'local' });
    const lambdaCa = parseCertificate(lambda.intermediate.der).fingerprint;
    expect(report.cas.filter((c) => c.revoked).map((c) => [c.fingerprint, c.revoked!.reason])).toEqual([
      [lambdaCa, 'keyCompromise'],
    ]);
    expect(report.warnings.find((w) => w.code === 'ca.revoked')).toMatchObject({
      severity: 'error',
      partner: 'lambda',
      message: expect.stringMatching(
        /^Revoked: CN=Lambda Issuing CA,O=Lambda \(serial [0-9a-f]+\), listed on the CRL of CN=Lambda Root CA,O=Lambda \(keyCompromise\)\. Every client under it is denied at the door\.$/,
      ),
    });
    // Only the root's CRL was read, not Mu's CRL of clients.
    expect(reads).toHaveLength(1);
    const html = renderReport(report, 'html');
    expect(html).toMatch(/<span class="st expired">REVOKED<\/span>/);
    const csv = parseCsv(renderReport(report, 'csv'));
    const column = csv[0]!.indexOf('revoked');
    expect(
      csv
        .slice(1)
        .filter((r) => r[column] !== '')
        .map((r) => r[3]),
    ).toEqual([lambdaCa]);
    // By hand: Mu's issuing CA revoked under its root.
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      {
        issuer: parseCertificate(mu.root.der).fingerprint,
        serial: parseCertificate(mu.intermediate.der).serial,
        reason: 'retired early',
        by: 'ops',
      },
    );
    const after = await storeReport(store, { now: NOW, label: 'local' });
    expect(
      after.cas
        .filter((c) => c.revoked)
        .map((c) => c.subject)
        .sort(),
    ).toEqual(['CN=Lambda Issuing CA,O=Lambda', 'CN=Mu Issuing CA,O=Mu']);
  });

  it('shows REVOKED a CA below a revoked one, and a CA of its partner carrying the revoked key', async () => {
    const nuRoot = await root('CN=Nu Root,O=Nu', { key: 'p256' });
    const nuIssuing = await intermediate('CN=Nu Issuing,O=Nu', nuRoot, { key: 'p256', pathLen: 1 });
    const nuSub = await intermediate('CN=Nu Sub,O=Nu', nuIssuing, { key: 'p256' });
    // The issuing CA's key under another name, straight under the root.
    const renamed = await intermediate('CN=Nu Issuing 2027,O=Nu', nuRoot, {
      key: 'p256',
      keySlot: JSON.stringify('CN=Nu Issuing,O=Nu'),
    });
    const store = new MemoryStore();
    const clock = new FakeClock(NOW.getTime());
    const { version } = await store.put('inbox/nu/ca.pem', toBytes(pemOf(nuRoot, nuIssuing, nuSub, renamed)));
    await ingestUploads([{ key: 'inbox/nu/ca.pem', version }], {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock,
      log: memoryLog(),
      config: { roll: { domains: [] } },
    });
    await revokeCertificate(
      { store, log: memoryLog(), clock },
      {
        issuer: parseCertificate(nuRoot.der).fingerprint,
        serial: parseCertificate(nuIssuing.der).serial,
        reason: 'key lost',
        by: 'sec',
      },
    );
    const report = await storeReport(store, { now: NOW, label: 'local' });
    const revoked = Object.fromEntries(
      report.cas.filter((c) => c.revoked).map((c) => [c.subject, c.revoked!.source]),
    );
    expect(Object.keys(revoked).sort()).toEqual([
      'CN=Nu Issuing 2027,O=Nu',
      'CN=Nu Issuing,O=Nu',
      'CN=Nu Sub,O=Nu',
    ]);
    expect(revoked['CN=Nu Sub,O=Nu']).toMatch(/^it is below CN=Nu Issuing,O=Nu, which is revoked/);
    expect(revoked['CN=Nu Issuing 2027,O=Nu']).toMatch(/^its key is revoked: /);
    // The revoked CA removed (with the CA below it): the other CA of its key stays REVOKED.
    await removeCas(
      { fingerprints: [parseCertificate(nuIssuing.der).fingerprint], reason: 'gone', requestedBy: 'ops' },
      {
        store,
        gateway: new FakeGateway(),
        notifier: new MemoryNotifier(),
        clock,
        log: memoryLog(),
        roll: { domains: [] },
      },
    );
    const later = await storeReport(store, { now: NOW, label: 'local' });
    expect(later.cas.filter((c) => c.revoked).map((c) => c.subject)).toEqual(['CN=Nu Issuing 2027,O=Nu']);
  });
});

describe('at the door', () => {
  it('shows what the door decides beyond the truststore: revocations by hand, partner rules, CAs retired lately', async () => {
    const xiRoot = await root('CN=Xi Root,O=Xi', { key: 'p256' });
    const xiIssuing = await intermediate('CN=Xi Issuing,O=Xi', xiRoot, { key: 'p256' });
    const store = new MemoryStore();
    const clock = new FakeClock(NOW.getTime());
    const { version } = await store.put('inbox/xi/ca.pem', toBytes(pemOf(xiRoot, xiIssuing)));
    const deps = {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock,
      log: memoryLog(),
    };
    await ingestUploads([{ key: 'inbox/xi/ca.pem', version }], {
      ...deps,
      config: { roll: { domains: [] } },
    });
    const none = await storeReport(store, { now: clock.now(), label: 'local' });
    expect(none.door).toEqual({ manual: [], rules: [], retired: [] });
    expect(renderReport(none, 'html')).toContain('<a href="#door">At the door (0)</a>');

    const issuing = parseCertificate(xiIssuing.der).fingerprint;
    await revokeCertificate(deps, { issuer: issuing, serial: '0a', reason: 'laptop <lost>', by: 'ops' });
    const revokedAt = clock.now().toISOString();
    await setPartnerRules(deps, 'xi', { pins: ['c'.repeat(64)], routes: ['GET /orders/*'] });
    clock.advance(86_400_000);
    await removeCas(
      { fingerprints: [issuing], reason: 'rotated', requestedBy: 'ops' },
      { ...deps, roll: { domains: [] } },
    );
    const removedAt = clock.now().toISOString();
    const report = await storeReport(store, { now: clock.now(), label: 'local' });
    expect(report.door).toEqual({
      manual: [
        {
          issuer: 'CN=Xi Issuing,O=Xi',
          issuerSha256: issuing,
          partner: 'xi',
          serial: '0a',
          reason: 'laptop <lost>',
          by: 'ops',
          at: revokedAt,
        },
      ],
      rules: [{ partner: 'xi', pins: 1, routes: ['GET /orders/*'] }],
      retired: [
        {
          partner: 'xi',
          subject: 'CN=Xi Issuing,O=Xi',
          fingerprint: issuing,
          removedAt,
          until: new Date(Date.parse(removedAt) + 7 * 86_400_000).toISOString(),
        },
      ],
    });
    const html = renderReport(report, 'html');
    expect(html).toContain('<a href="#door">At the door (3)</a>');
    expect(html).toContain('<h3>Revoked by hand (1)</h3>');
    expect(html).toContain('laptop &lt;lost&gt;');
    expect(html).not.toContain('laptop <lost>');
    expect(html).toContain('<code>GET /orders/*</code>');
    expect(html).toContain('1 pin (only those clients)');
    expect(html).toContain(`<time datetime="${report.door.retired[0]!.until}">`);
    expect(JSON.parse(renderReport(report, 'json')).door).toEqual(report.door);
    // Once the retirement has ended, the CA is no longer at the door.
    const later = await storeReport(store, {
      now: new Date(clock.now().getTime() + 8 * 86_400_000),
      label: 'local',
    });
    expect(later.door.retired).toEqual([]);
    expect(later.door.manual).toHaveLength(1);
  });
});

describe('the size bound', () => {
  it('stays under 2 MB as HTML for 1,000 CAs and 100 versions (npm run bench measures the time)', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => {
      const e = state.entries[i % state.entries.length]!;
      const subject = `CN=Partner ${String(i % 50).padStart(2, '0')} Issuing CA ${i},OU=Client Certificates,O=Partner ${i % 50} Ltd,C=DE`;
      return {
        ...e,
        fingerprint: createHash('sha256').update(String(i)).digest('hex'),
        subject,
        subjectKey: subject.toLowerCase(),
        issuer: subject,
        issuerKey: subject.toLowerCase(),
        notAfter: new Date(NOW.getTime() + (i % 500) * 86_400_000).toISOString(),
      };
    });
    const big = buildReport(largeState(entries, 100), { now: NOW, store: 's3://bucket/prod' });
    expect(big.cas).toHaveLength(1000);
    expect(big.history).toHaveLength(100);
    const html = renderReport(big, 'html');
    expect(html.match(/class="ca-mark /g)).toHaveLength(1000);
    expect(Buffer.byteLength(html)).toBeLessThan(2_000_000);
    expect(Buffer.byteLength(renderReport(big, 'json'))).toBeLessThan(2_000_000);
    // With 100 targets and the 10 rollout records read on AWS, still under the bound.
    const versions = largeState(entries, 100).history.flatMap((r) => (r.version ? [r.version] : []));
    const withTargets = buildReport(largeState(entries, 100), {
      now: NOW,
      store: 's3://bucket/prod',
      rollouts: { source: 's3://bucket/prod/rollouts/', records: manyRollouts(100, 10, versions) },
    });
    expect(withTargets.rollouts!.targets).toHaveLength(100);
    expect(withTargets.rollouts!.targets.filter((t) => t.state === 'rolled-back')).toHaveLength(2);
    const page = renderReport(withTargets, 'html');
    expect(page.match(/<span class="st run">not reached<\/span>/g)).toHaveLength(98);
    expect(Buffer.byteLength(page)).toBeLessThan(2_000_000);
    expect(Buffer.byteLength(renderReport(withTargets, 'json'))).toBeLessThan(2_000_000);
  });
});
