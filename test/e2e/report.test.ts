import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeCertificate, setPartnerRules } from '../../shared/pipeline/revocation.js';
import { buildReport, renderReport } from '../../shared/report/index.js';
import { KEYS, latestPublished, parseState } from '../../shared/truststore/state.js';
import { memoryLog } from '../fakes/fakes.js';
import { NOW } from '../fixtures/pki.js';
import { EVIL_SUBJECT, reportFixture } from '../fixtures/report-state.js';
import { stoppedAtCanary } from '../fixtures/rollout-records.js';
import { Browser, chromiumVersion } from './browser.js';
import { build, type Running, startUp, waitFor } from './helpers.js';

/** Screenshots and pages the tests leave behind for people to look at (gitignored). */
const ARTIFACTS = resolve('test-artifacts');

/**
 * The report as people see it: the HTML rendered by a real headless Chromium (Debian's package),
 * on a wide, a zoomed (200%: 640 CSS px of a 1280 px window) and a narrow (320 px) window.
 */
describe('the report in a real browser', () => {
  let browser: Browser;
  let page: string;
  let cas: number;
  beforeAll(async () => {
    const chromium = chromiumVersion();
    // Honest: without Chromium this fails, saying how to install it (CI installs it).
    if (chromium.missing) throw new Error(chromium.missing);
    const fixture = await reportFixture();
    // At the door: a client revoked by hand (its subject holds markup) and a partner's route rule,
    // beside the partner whose CAs the fixture removed (retired: the door still decides its clients).
    const deps = { store: fixture.store, log: memoryLog(), clock: fixture.clock };
    const acme = fixture.state.entries.find((e) => e.partner === 'acme' && e.issuer !== e.subject)!;
    await revokeCertificate(deps, {
      issuer: acme.fingerprint,
      serial: '0a1b',
      reason: 'laptop lost',
      by: 'ops',
      subject: 'CN=<b>laptop</b>,O=Acme',
    });
    await setPartnerRules(deps, 'beta', { routes: ['GET /orders/*'] });
    const state = parseState((await fixture.store.get(KEYS.state)).body);
    cas = state.entries.length;
    mkdirSync(ARTIFACTS, { recursive: true });
    page = join(ARTIFACTS, 'report.html');
    // With targets: the last rollout stopped at the canary, whose probe's failure holds markup.
    const latest = latestPublished(state)!.version!;
    const older = state.history.find((r) => r.version && r.version !== latest)!.version!;
    const records = await stoppedAtCanary(older, latest, 'HTTP 403 <img src="x.png"> & co');
    writeFileSync(
      page,
      renderReport(
        buildReport(state, {
          now: NOW,
          store: 's3://trustroll-prod/',
          rollouts: { source: 's3://trustroll-prod/rollouts/', records },
        }),
        'html',
      ),
    );
    browser = new Browser();
    await browser.open(1280, 900);
    await browser.goto(pathToFileURL(page).href);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('loads with no console error, and requests nothing but the page itself', () => {
    expect(browser.events.errors).toEqual([]);
    expect(browser.events.requests).toEqual([pathToFileURL(page).href]);
  });

  it('draws the chart with exactly one mark per CA, and where clients break', async () => {
    const chart = await browser.evaluate<{
      marks: number;
      breaks: string[];
      thresholds: string[];
      title: string;
      desc: string;
    }>(`({
      marks: document.querySelectorAll('#timeline svg .ca-mark').length,
      breaks: [...document.querySelectorAll('#timeline svg .break-mark')].map((m) => m.dataset.breaks),
      thresholds: [...document.querySelectorAll('#timeline svg .threshold')].map((t) => t.dataset.days),
      title: document.querySelector('#timeline svg > title').textContent,
      desc: document.querySelector('#timeline svg > desc').textContent,
    })`);
    expect(chart.marks).toBe(cas);
    expect(chart.breaks).toEqual(['2026-09-09']);
    expect(chart.thresholds).toEqual(['1', '3', '7', '14', '30', '60']);
    expect(chart.title).toBe('Expiry timeline of 6 CAs, 2026-06-01 to 2027-07-01');
    expect(chart.desc).toMatch(/^6 CAs of 3 partners/);
    // Each mark is drawn (has a size) inside the chart.
    const drawn = await browser.evaluate<number>(
      `[...document.querySelectorAll('.ca-mark')].filter((m) => { const b = m.getBBox(); return b.width > 0 && b.height > 0; }).length`,
    );
    expect(drawn).toBe(cas);
  });

  it('shows the partners, their CAs and the dates from the state, and the subject as text', async () => {
    const dom = await browser.evaluate<{
      partners: string[];
      text: string;
      scripts: number;
      title: string;
      lang: string;
    }>(`({
      partners: [...document.querySelectorAll('#partners h3')].map((h) => h.textContent),
      text: document.body.innerText,
      scripts: document.scripts.length,
      title: document.title,
      lang: document.documentElement.lang,
    })`);
    expect(dom.partners).toEqual(['acme', 'beta', 'evil']);
    for (const date of ['2026-09-09', '2027-03-28', '2026-06-21', '2026-12-18', '2026-05-31'])
      expect(dom.text).toContain(date);
    expect(dom.text).toContain('expires within 30 days');
    expect(dom.text).toContain('STALE');
    // The markup in a partner-controlled subject is shown, never run.
    expect(dom.text).toContain(
      EVIL_SUBJECT.replace('<script>', '\\<script\\>').replace('</script>', '\\</script\\>'),
    );
    expect(dom.scripts).toBe(0);
    expect(dom.title).toBe('Truststore report: s3://trustroll-prod/, revision 5');
    expect(dom.lang).toBe('en');
  });

  it('shows at the door the revocation by hand, the rule and the retired CAs, markup as text', async () => {
    const door = await browser.evaluate<{ rows: string[][]; html: string }>(`({
      rows: [...document.querySelectorAll('#door tbody tr')].map((r) => [...r.cells].map((c) => c.innerText.replace(/\\s+/g, ' ').trim())),
      html: document.querySelector('#door').innerHTML,
    })`);
    expect(door.rows.map((r) => r[0]!.replace(/ [0-9a-f]{16}…$/, ''))).toEqual([
      'CN=<b>laptop</b>,O=Acme',
      'beta',
      'CN=Gamma Issuing CA,O=Gamma',
      'CN=Gamma Root CA,O=Gamma',
    ]);
    expect(door.rows[0]!.slice(1, 6)).toEqual([
      '0a1b',
      expect.stringMatching(/^CN=Acme Issuing CA,O=Acme [0-9a-f]{16}…$/),
      'acme',
      'laptop lost',
      'ops',
    ]);
    expect(door.rows[1]).toEqual(['beta', 'none (any client under its CAs)', 'GET /orders/*']);
    expect(door.rows[2]![1]).toBe('gamma');
    expect(door.html).toContain('<h3>Retired CAs (2)</h3>');
    expect(door.html).not.toContain('<b>laptop');
  });

  it('has headings in order and a header cell for every table column', async () => {
    const structure = await browser.evaluate<{
      headings: string[];
      tables: number;
      headed: number;
      ids: number;
      unique: number;
    }>(`({
      ids: document.querySelectorAll('[id]').length,
      unique: new Set([...document.querySelectorAll('[id]')].map((e) => e.id)).size,
      headings: [...document.querySelectorAll('h1, h2')].map((h) => h.tagName + ' ' + h.textContent),
      tables: document.querySelectorAll('table').length,
      headed: [...document.querySelectorAll('table')].filter((t) => t.querySelector('caption') && t.tHead.rows[0].cells.length === t.tBodies[0].rows[0].cells.length).length,
    })`);
    expect(structure.headings[0]).toBe('H1 Truststore report');
    expect(structure.headings.slice(1).map((h) => h.split(' ')[1])).toEqual([
      'Summary',
      'Open',
      'Expiry',
      'Partners',
      'CRLs',
      'At',
      'Domains',
      'Rollouts',
      'Version',
    ]);
    expect(structure.headed).toBe(structure.tables);
    // Every id names one element (the sections' links, the chart's title and description).
    expect(structure.unique).toBe(structure.ids);
  });

  it('shows the rollouts: every target, the version it serves and its state in words, the markup of a probe failure as text', async () => {
    const ro = await browser.evaluate<{ rows: string[][]; text: string; images: number }>(`({
      rows: [...document.querySelectorAll('#rollouts tbody tr')].map((r) => [...r.cells].map((c) => c.innerText.replace(/\\s+/g, ' ').trim())),
      text: document.querySelector('#rollouts').innerText,
      images: document.images.length,
    })`);
    expect(ro.rows.map((r) => [r[0], r[1], r[3]])).toEqual([
      ['canary', 'apigateway-rest', 'canary'],
      ['eu', 'apigateway-http', 'rest'],
      ['us', 'elb-trust-store', 'rest'],
    ]);
    expect(ro.rows[0]![5]).toMatch(
      /^ROLLED BACK rolled back to \S+: probe failed: HTTP 403 <img src="x.png"> & co$/,
    );
    expect(ro.rows[1]![5]).toMatch(/not reached/);
    for (const r of ro.rows) expect(r[4]).toMatch(/\(NOT the latest\)/);
    expect(ro.text).toMatch(/Every target \(3\) serves truststore version \S+, NOT the latest/);
    expect(ro.text).toContain('stopped in wave canary (1 of 2) and rolled back');
    expect(ro.images).toBe(0);
  });

  it('reflows at 200% zoom and in a narrow window: the page never scrolls sideways, wide tables scroll in place', async () => {
    writeFileSync(join(ARTIFACTS, 'report.png'), await browser.screenshot());
    for (const width of [640, 320]) {
      await browser.resize(width, 800);
      const m = await browser.evaluate<{ page: number; tables: number; scrolling: number }>(`({
        page: document.documentElement.scrollWidth,
        tables: [...document.querySelectorAll('.scroll')].filter((s) => s.getBoundingClientRect().right <= innerWidth + 1).length,
        scrolling: document.querySelectorAll('.scroll').length,
      })`);
      expect(m.page, `page width at ${width} px`).toBeLessThanOrEqual(width);
      expect(m.tables).toBe(m.scrolling);
      writeFileSync(join(ARTIFACTS, `report-${width}px.png`), await browser.screenshot());
    }
    await browser.resize(1280, 900);
    expect(browser.events.errors).toEqual([]);
  });
});

describe('the report page of trustroll up', () => {
  let dir: string;
  let up: Running | undefined;
  let browser: Browser | undefined;
  beforeAll(() => {
    const chromium = chromiumVersion();
    if (chromium.missing) throw new Error(chromium.missing);
    build();
    dir = mkdtempSync(join(tmpdir(), 'report-up-'));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await up?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its address at start and serves the live state, under its content security policy, with no console error', async () => {
    up = await startUp(dir);
    const url = /report {5}(http:\/\/127\.0\.0\.1:\d+\/)/.exec(up.output())?.[1];
    expect(url, up.output()).toBeDefined();
    mkdirSync(join(dir, 'inbox/acme'), { recursive: true });
    cpSync(join(dir, '.trustroll/demo/acme-ca-bundle.pem'), join(dir, 'inbox/acme/acme-ca-bundle.pem'));
    await waitFor(
      () => (/truststore revision 1 published/.test(up!.output()) ? true : undefined),
      60_000,
      up.output,
    );
    // The pipeline published the report beside the version, locally too.
    expect(readFileSync(join(dir, '.trustroll/reports/truststore.csv'), 'utf8')).toMatch(/\r\nacme,/);

    const b = new Browser();
    browser = b;
    await b.open(1280, 900);
    await b.goto(url!);
    const dom = await b.evaluate<{ marks: number; partners: string[]; domains: string }>(`({
      marks: document.querySelectorAll('.ca-mark').length,
      partners: [...document.querySelectorAll('#partners h3')].map((h) => h.textContent),
      domains: document.querySelector('#domains').innerText,
    })`);
    expect(dom.marks).toBe(2);
    expect(dom.partners).toEqual(['acme']);
    // The domain is the endpoint up plays, on the latest version.
    expect(dom.domains).toMatch(/localhost\s+AVAILABLE\s+000001\s+yes\s+none/);
    expect(b.events.errors).toEqual([]);
    expect(b.events.requests).toEqual([url]);
    const csv = await fetch(`${url}truststore.csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await csv.text()).split('\r\n').filter((l) => l.startsWith('acme,'))).toHaveLength(2);
  }, 180_000);
});
