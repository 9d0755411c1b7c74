import { parseCertificate } from '../shared/pki/certificate.js';
import { buildReport, renderReport } from '../shared/report/index.js';
import { entryOf } from '../shared/truststore/state.js';
import { NOW } from '../test/fixtures/pki.js';
import { largeState } from '../test/fixtures/report-state.js';
import { manyRollouts } from '../test/fixtures/rollout-records.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * The report (issue 20) of a 1,000-CA truststore with 100 versions: the model and the HTML, JSON
 * and CSV, from a state as read from the store (each CA's key parsed from its PEM, as a cold
 * Lambda or a fresh `trustroll report` does) and warm (the certificates parsed already, as a warm
 * `trustroll up`), against JSON.stringify of the state (one pass over every entry), and the size
 * of each format against the 2 MB bound.
 */
export const reportBench = async (): Promise<void> => {
  note('# report (issue 20): 1,000 CAs, 100 versions — model + HTML, JSON, CSV; sizes');
  const bundle = await caBundle(1000, ['p256']);
  const entries = bundle.ders.map((der) =>
    entryOf(parseCertificate(der), {
      partner: 'bench',
      upload: { key: 'k', version: '1' },
      addedAt: '2026-01-01T00:00:00Z',
      findings: [],
    }),
  );
  const state = largeState(entries, 100);
  const floor = median(() => JSON.stringify(state), 10);
  /** The state as read from the store: new entry objects, so no certificate is known parsed. */
  const fresh = () => ({ ...state, entries: state.entries.map((e) => ({ ...e })) });
  const all = (s: typeof state) => {
    const model = buildReport(s, { now: NOW, store: 's3://bench/' });
    return {
      html: renderReport(model, 'html'),
      json: renderReport(model, 'json'),
      csv: renderReport(model, 'csv'),
    };
  };
  const copies = Array.from({ length: 8 }, fresh);
  const cold: number[] = [];
  for (const copy of copies) {
    const start = performance.now();
    all(copy);
    cold.push(performance.now() - start);
  }
  cold.sort((a, b) => a - b);
  const coldMs = cold[Math.floor(cold.length / 2)]!;
  const warmMs = median(() => all(state), 10);
  const htmlMs = median(
    () => renderReport(buildReport(state, { now: NOW, store: 's3://bench/' }), 'html'),
    10,
  );
  const sizes = all(state);
  // With 100 targets and the 10 rollout records the report reads on AWS (issue 21).
  const versions = state.history.flatMap((r) => (r.version ? [r.version] : []));
  const rollouts = { source: 's3://bench/rollouts/', records: manyRollouts(100, 10, versions) };
  const withTargets = () => {
    const model = buildReport(state, { now: NOW, store: 's3://bench/', rollouts });
    return {
      html: renderReport(model, 'html'),
      json: renderReport(model, 'json'),
      csv: renderReport(model, 'csv'),
    };
  };
  const targetsMs = median(withTargets, 10);
  const targetSizes = withTargets();
  report({
    name: 'report.1000.all-formats.state-read',
    value: coldMs,
    unit: 'ms',
    floor,
    ratio: coldMs / floor,
    target: '< 1000 ms',
  });
  report({
    name: 'report.1000.all-formats.warm',
    value: warmMs,
    unit: 'ms',
    floor,
    ratio: warmMs / floor,
    target: '< 1000 ms',
  });
  report({ name: 'report.1000.html.warm', value: htmlMs, unit: 'ms' });
  report({
    name: 'report.1000.targets-100.all-formats.warm',
    value: targetsMs,
    unit: 'ms',
    floor,
    ratio: targetsMs / floor,
    target: '< 1000 ms',
  });
  for (const format of ['html', 'json'] as const)
    report({
      name: `report.1000.targets-100.${format}.size`,
      value: Buffer.byteLength(targetSizes[format]) / 1e6,
      unit: 'MB',
      target: format === 'html' ? '< 2 MB' : '',
    });
  for (const format of ['html', 'json', 'csv'] as const)
    report({
      name: `report.1000.${format}.size`,
      value: Buffer.byteLength(sizes[format]) / 1e6,
      unit: 'MB',
      target: format === 'html' ? '< 2 MB' : '',
    });
};
