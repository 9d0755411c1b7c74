import { beforeAll, describe, expect, it } from 'vitest';
import { REPORT_KEYS } from '../../../shared/pipeline/report.js';
import { scanExpiry } from '../../../shared/pipeline/scan.js';
import { buildReport, type Report, renderReport } from '../../../shared/report/index.js';
import type { RolloutSources } from '../../../shared/report/rollouts.js';
import { durableStep } from '../../../shared/rollout/durable-step.js';
import type { Rollout } from '../../../shared/rollout/model.js';
import { rolloutKey } from '../../../shared/rollout/records.js';
import { runRollout, startRollout } from '../../../shared/rollout/step.js';
import { latestPublished, type TruststoreState } from '../../../shared/truststore/state.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { FakeTargetGateway } from '../../fakes/targets.js';
import { NOW } from '../../fixtures/pki.js';
import { type ReportFixture, reportFixture } from '../../fixtures/report-state.js';
import { ROLLOUT_CONFIG } from '../../fixtures/rollout-records.js';

/**
 * The report's rollouts: records made by the real rollout (`runRollout` over fake targets), read
 * as the report reads them. canary (probed) in wave canary; eu (another region) and us (another
 * account) in wave rest.
 */
/** The targets of the records fixture: canary (probed), eu and us (an ELB trust store of another account). */
const config = ROLLOUT_CONFIG;

let fixture: ReportFixture;
let state: TruststoreState;
/** The latest published version, and the one before it. */
let latest: string;
let older: string;

/** Every target on `from`, then a rollout of `version` run to its end (`probeFails`: the canary's). */
const rollout = async (
  revision: number,
  version: string,
  from: Record<string, string | undefined>,
  options: {
    probeFails?: string;
    /** The latest published version before each step, as the gateway stands. */
    latestVersion?: (gateway: FakeTargetGateway) => string | undefined;
    previous?: Rollout;
  } = {},
) => {
  const clock = new FakeClock(NOW.getTime() - 86_400_000);
  const gateway = new FakeTargetGateway(clock, from);
  if (options.probeFails) {
    const detail = options.probeFails;
    gateway.probeResult = (_id, v) => (v === version ? { ok: false, detail } : { ok: true, detail: '200' });
  }
  const deps = { config, gateway, clock, log: memoryLog(), notifier: new MemoryNotifier() };
  return runRollout(startRollout(config, { revision, version }, clock.now(), options.previous), deps, {
    ...(options.latestVersion ? { latestVersion: async () => options.latestVersion?.(gateway) } : {}),
  });
};

const report = (rollouts?: RolloutSources): Report =>
  buildReport(state, { now: NOW, store: 's3://bucket/prod', ...(rollouts ? { rollouts } : {}) });
const source = 's3://bucket/prod/rollouts/';

beforeAll(async () => {
  fixture = await reportFixture();
  state = fixture.state;
  latest = latestPublished(state)!.version!;
  const versions = state.history.flatMap((r) => (r.version ? [r.version] : []));
  older = versions.find((v) => v !== latest)!;
  expect(older).toBeDefined();
}, 120_000);

describe('the rollouts in the report model', () => {
  it('a stopped rollout: the canary rolled back with the reason, wave 2 not reached, every target on the older version', async () => {
    const done = await rollout(4, older, { canary: undefined, eu: undefined, us: undefined });
    expect(done.status).toBe('succeeded');
    const stopped = await rollout(
      5,
      latest,
      { canary: older, eu: older, us: older },
      { probeFails: 'HTTP 403, expected 200' },
    );
    expect(stopped.status).toBe('rolled-back');
    const r = report({ source, records: [stopped, done] }).rollouts!;
    expect(r.last).toMatchObject({
      version: latest,
      revision: 5,
      status: 'rolled-back',
      wave: 'canary',
      finishedAt: stopped.updatedAt,
      startedAt: stopped.startedAt,
      ofLatest: true,
    });
    expect(r.last!.reason).toContain('the probe of canary failed');
    expect(r.targets.map((t) => [t.id, t.kind, t.wave, t.version, t.versionKnownFrom, t.state])).toEqual([
      ['canary', 'apigateway-rest', 'canary', older, 'records', 'rolled-back'],
      ['eu', 'apigateway-http', 'rest', older, 'records', 'not-reached'],
      ['us', 'elb-trust-store', 'rest', older, 'records', 'not-reached'],
    ]);
    expect(r.targets[0]!.stateText).toBe(`rolled back to ${older}: probe failed: HTTP 403, expected 200`);
    expect(r.targets[1]!.stateText).toBe('not reached: the rollout stopped before updating it');
    expect(r.targets[2]).toMatchObject({ region: 'us-east-1', account: '210987654321', latest: false });
    expect(r.mixed).toBe(false);
    expect(r.statements).toContain(
      `Every target (3) serves truststore version ${older}, NOT the latest (${latest}).`,
    );
    expect(r.statements.some((s) => s.includes('stopped in wave canary (1 of 2) and rolled back'))).toBe(
      true,
    );
    expect(r.statements).toContain('Rolled back: canary.');
    const warnings = report({ source, records: [stopped, done] }).warnings;
    expect(warnings.find((w) => w.code === 'rollout.stopped')).toMatchObject({
      severity: 'warning',
      message: expect.stringContaining(
        `The rollout of truststore version ${latest} was rolled back in wave canary`,
      ),
    });
  });

  it('mixed versions: a superseded rollout that reached the canary only', async () => {
    const done = await rollout(4, older, { canary: 'v0', eu: 'v0', us: 'v0' });
    // A newer version published once the canary verified v-mid: the rest wave was still paced
    // (not updated), so the rollout stopped there; the record as the step writes it.
    const reached = await rollout(5, 'v-mid', { canary: older, eu: older, us: older });
    const superseded: Rollout = {
      ...reached,
      status: 'superseded',
      wave: 1,
      reason: `truststore version ${latest} was published since: its rollout takes over from here (nothing rolled back)`,
      targets: reached.targets.map((t) => (t.wave === 'rest' ? { ...t, phase: 'skipped' } : t)),
    };
    expect(superseded.status).toBe('superseded');
    const r = report({ source, records: [superseded, done] }).rollouts!;
    const serves = Object.fromEntries(r.targets.map((t) => [t.id, t.version]));
    expect(serves).toEqual({ canary: 'v-mid', eu: older, us: older });
    expect(r.mixed).toBe(true);
    expect(r.versions).toEqual([
      { version: 'v-mid', targets: ['canary'] },
      { version: older, targets: ['eu', 'us'] },
    ]);
    expect(r.statements[0]).toBe(
      `The targets serve DIFFERENT truststore versions: truststore version v-mid on canary; truststore version ${older} on eu and us.`,
    );
    expect(
      r.statements.some((s) => s.includes(`The latest published version, ${latest}, has no rollout record`)),
    ).toBe(true);
    expect(report({ source, records: [superseded, done] }).warnings.map((w) => w.code)).toContain(
      'targets.mixed-versions',
    );
  });

  it('a target a superseded rollout updated but never verified is said so, and one it had not asked yet keeps its version', async () => {
    const done = await rollout(4, older, { canary: 'v0', eu: 'v0', us: 'v0' });
    const reached = await rollout(5, 'v-mid', { canary: older, eu: older, us: older });
    const superseded: Rollout = {
      ...reached,
      status: 'superseded',
      wave: 1,
      reason: `truststore version ${latest} was published since: its rollout takes over from here (nothing rolled back)`,
      targets: reached.targets.map((t) =>
        t.id === 'eu'
          ? { ...t, phase: 'verifying' }
          : t.id === 'us'
            ? { ...t, phase: 'updating', requestedAt: undefined }
            : t,
      ),
    };
    const r = report({ source, records: [superseded, done] }).rollouts!;
    expect(r.targets.map((t) => [t.id, t.state, t.version])).toEqual([
      ['canary', 'rolled', 'v-mid'],
      ['eu', 'unverified', 'v-mid'],
      ['us', 'not-reached', older],
    ]);
    expect(r.targets[1]!.stateText).toBe(
      'updated to v-mid, never verified: a newer version superseded the rollout first',
    );
    expect(renderReport(report({ source, records: [superseded, done] }), 'html')).toContain(
      '<span class="st soon">NOT VERIFIED</span>',
    );
  });

  it('no targets: no section, no field, no warning', () => {
    for (const r of [report(), report({ source, records: [] })]) {
      expect(r.rollouts).toBeUndefined();
      expect(JSON.parse(renderReport(r, 'json'))).not.toHaveProperty('rollouts');
      expect(renderReport(r, 'html')).not.toContain('id="rollouts"');
      expect(
        r.warnings.map((w) => w.code).filter((c) => c.startsWith('rollout') || c.startsWith('targets')),
      ).toEqual([]);
    }
  });

  it('a failed target whose state is unconfirmed serves a version that is not known', async () => {
    const done = await rollout(4, older, { canary: 'v0', eu: 'v0', us: 'v0' });
    const failed: Rollout = {
      ...done,
      id: `5-${latest}`,
      revision: 5,
      version: latest,
      status: 'failed',
      reason: 'canary: canary.example.com still UPDATING after 60 s',
      wave: 0,
      targets: done.targets.map((t) =>
        t.id === 'canary'
          ? {
              ...t,
              phase: 'failed',
              unconfirmed: true,
              error: 'canary.example.com still UPDATING after 60 s',
            }
          : { ...t, phase: 'skipped' },
      ),
    };
    const r = report({ source, records: [failed, done] });
    const canary = r.rollouts!.targets[0]!;
    expect(canary).toMatchObject({ state: 'failed', versionKnownFrom: 'unknown', latest: false });
    expect(canary.version).toBeUndefined();
    expect(canary.stateText).toBe(
      'FAILED: canary.example.com still UPDATING after 60 s (what it serves is unconfirmed)',
    );
    expect(r.rollouts!.statements).toContain(
      'What canary serves is not known: look at it (the state below says why).',
    );
    expect(r.warnings.find((w) => w.code === 'rollout.stopped')!.severity).toBe('error');
  });

  it('locally, what each endpoint serves is the truth, and a stopped endpoint serves nothing', async () => {
    const done = await rollout(4, latest, { canary: older, eu: older, us: older });
    const r = report({
      source: '.trustroll/endpoint/rollout.json',
      records: [done],
      served: [
        { id: 'canary', name: 'canary.example.com', status: 'AVAILABLE', version: latest, running: true },
        { id: 'eu', name: 'api.example.eu', status: 'AVAILABLE', version: older, running: true },
        { id: 'us', name: 'us', status: 'AVAILABLE', version: latest, running: false },
        { id: 'new', name: 'new.example.com', status: 'AVAILABLE', running: true },
      ],
    }).rollouts!;
    expect(r.targets.map((t) => [t.id, t.version, t.versionKnownFrom, t.state, t.running])).toEqual([
      ['canary', latest, 'endpoint', 'rolled', true],
      ['eu', older, 'endpoint', 'rolled', true],
      ['us', latest, 'endpoint', 'rolled', false],
      ['new', undefined, 'endpoint', 'not-in-rollout', true],
    ]);
    // The stopped endpoint is not counted among the versions served.
    expect(r.versions).toEqual([
      { version: latest, targets: ['canary'] },
      { version: older, targets: ['eu'] },
      { version: '', targets: ['new'] },
    ]);
    expect(r.mixed).toBe(true);
    expect(r.statements).toContain(
      'The endpoint of us is not running (trustroll up stopped): it serves nothing now.',
    );
  });
});

describe('the rollouts section of the HTML page', () => {
  it('shows the targets, the versions they serve and the last rollout in words, escaped', async () => {
    const done = await rollout(4, older, { canary: undefined, eu: undefined, us: undefined });
    const stopped = await rollout(
      5,
      latest,
      { canary: older, eu: older, us: older },
      { probeFails: 'HTTP 403 <img src=x onerror=alert(1)> & more' },
    );
    const page = renderReport(report({ source, records: [stopped, done] }), 'html');
    expect(page).toContain('<section id="rollouts" aria-labelledby="rollouts-h">');
    expect(page).toContain('<li><a href="#rollouts">Rollouts and targets (3)</a></li>');
    expect(page).not.toContain('<img');
    expect(page).toContain('HTTP 403 &lt;img src=x onerror=alert(1)&gt; &amp; more');
    const section = page.slice(
      page.indexOf('<section id="rollouts"'),
      page.indexOf('</section>', page.indexOf('<section id="rollouts"')),
    );
    // Every state is a word beside its colour; every table has a caption and header cells.
    expect(section).toContain('<span class="st soon">ROLLED BACK</span>');
    expect(section).toContain('<span class="st run">not reached</span>');
    expect(section).toContain(
      '<caption>Targets, in wave order, with their state in the last rollout</caption>',
    );
    expect(section).toContain('<th scope="col">Serves</th>');
    expect(section).toContain(`<code>${older}</code> <strong>(NOT the latest)</strong>`);
    expect(section).toContain('<strong>canary</strong> → rest<br><small>stopped in canary</small>');
    expect(section).toContain('region eu-west-1');
    expect(section).toContain('account 210987654321');
    expect(section).toContain(
      `<p>Every target (3) serves truststore version ${older}, NOT the latest (${latest}).</p>`,
    );
    // The JSON holds the same values as the page.
    const json = JSON.parse(renderReport(report({ source, records: [stopped, done] }), 'json'));
    expect(json.rollouts.last).toMatchObject({
      id: stopped.id,
      version: latest,
      status: 'rolled-back',
      wave: 'canary',
    });
    expect(json.rollouts.targets.map((t: { id: string; phase: string }) => [t.id, t.phase])).toEqual(
      stopped.targets.map((t) => [t.id, t.phase]),
    );
  });
});

describe('published on AWS from the rollout records in the bucket', () => {
  it('the expiry scan shows the records of rollouts/ on reports/index.html', async () => {
    const { store } = await reportFixture();
    const done = await rollout(4, older, { canary: undefined, eu: undefined, us: undefined });
    const stopped = await rollout(
      5,
      latest,
      { canary: older, eu: older, us: older },
      { probeFails: 'HTTP 403' },
    );
    for (const r of [done, stopped])
      await store.put(rolloutKey(r.id), new TextEncoder().encode(JSON.stringify(r)));
    // The ELB ledger beside the records is not a record.
    await store.put('rollouts/trust-stores/x.json', new TextEncoder().encode('{"version":"1"}'));
    await scanExpiry({
      store,
      clock: new FakeClock(NOW.getTime()),
      log: memoryLog(),
      notifier: new MemoryNotifier(),
      config: {},
      label: 's3://prod-bucket/',
    });
    const html = new TextDecoder().decode((await store.get(REPORT_KEYS.html)).body);
    expect(html).toContain('Read from <code>s3://prod-bucket/rollouts/</code>');
    expect(html).toContain('<span class="st soon">ROLLED BACK</span>');
    expect(html).toContain(`stopped in wave canary (1 of 2)`);
  });

  it('records that cannot be read are said on the page; the report is still published', async () => {
    const { store } = await reportFixture();
    const done = await rollout(4, older, { canary: undefined, eu: undefined, us: undefined });
    await store.put(rolloutKey(done.id), new TextEncoder().encode(JSON.stringify(done)));
    store.beforeOp = (op, key) => {
      if (op === 'get' && key.startsWith('rollouts/')) throw new Error('AccessDenied');
    };
    const log = memoryLog();
    await scanExpiry({
      store,
      clock: new FakeClock(NOW.getTime()),
      log,
      notifier: new MemoryNotifier(),
      config: {},
    });
    const html = new TextDecoder().decode((await store.get(REPORT_KEYS.html)).body);
    expect(html).toContain('The rollout records could not be read (AccessDenied)');
    expect(html).toContain('<code>rollout.records-unreadable</code>');
    expect(log.lines).toContainEqual(
      expect.objectContaining({ message: 'rollout records not read for the report' }),
    );
  });
});

describe('published again when a rollout ends (the rollout function)', () => {
  const drive = async (store: ReportFixture['store'], report?: { label: string }) => {
    const clock = new FakeClock(NOW.getTime());
    const gateway = new FakeTargetGateway(clock, { canary: older, eu: older, us: older });
    const log = memoryLog();
    const deps = {
      store,
      gateway,
      clock,
      log,
      notifier: new MemoryNotifier(),
      config,
      ...(report ? { report } : {}),
    };
    const pages: string[] = [];
    const page = async () => new TextDecoder().decode((await store.get(REPORT_KEYS.html)).body);
    let out = await durableStep({ release: { revision: state.revision, version: latest } }, deps);
    for (let i = 0; !out.done && i < 200; i++) {
      pages.push(await page());
      clock.advance(out.waitSeconds * 1000);
      out = await durableStep({ rollout: out.rollout }, deps);
    }
    return { out, pages, last: await page(), log };
  };

  it('says how the rollout ended on reports/index.html, and not before it ended', async () => {
    const { store } = await reportFixture();
    const before = new TextDecoder().decode((await store.get(REPORT_KEYS.html)).body);
    expect(before).not.toContain('id="rollouts"');
    const { out, pages, last } = await drive(store, { label: 's3://prod-bucket/' });
    expect(out.rollout.status).toBe('succeeded');
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.every((p) => p === before)).toBe(true);
    expect(last).toContain('<span class="st ok">completed</span>');
    expect(last).toContain(`<p>Every target (3) serves truststore version ${latest}, the latest.</p>`);
    expect(last).toContain('Read from <code>s3://prod-bucket/rollouts/</code>');
  });

  it('a report that cannot be written does not fail the step: it is logged', async () => {
    const { store } = await reportFixture();
    store.beforeOp = (op, key) => {
      if (op === 'put' && key.startsWith('reports/')) throw new Error('AccessDenied');
    };
    const { out, log } = await drive(store, { label: 's3://prod-bucket/' });
    expect(out).toMatchObject({ done: true, rollout: { status: 'succeeded' } });
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'report not published' }),
    );
  });
});
