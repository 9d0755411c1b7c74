import { scanExpiry } from '../shared/pipeline/scan.js';
import { saveState } from '../shared/pipeline/state-store.js';
import { parseCertificate } from '../shared/pki/certificate.js';
import { emptyState, entryOf } from '../shared/truststore/state.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { MemoryStore } from '../test/fakes/memory-store.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * The expiry scan of a 1000-CA truststore (state in an in-memory store, nothing crossing a
 * threshold, so the scan reads and judges but writes nothing), against the floor: reading the
 * state and parsing each CA's notAfter once.
 */
export const scanBench = async (): Promise<void> => {
  note('# expiry scan (issue 6): 1000-CA truststore vs. reading the state + parsing each validity once');
  const bundle = await caBundle(1000, ['p256']);
  const entries = bundle.ders.map((der) =>
    entryOf(parseCertificate(der), {
      partner: 'bench',
      upload: { key: 'k', version: '1' },
      addedAt: '2026-01-01T00:00:00Z',
      findings: [],
    }),
  );
  const store = new MemoryStore();
  await saveState(store, { ...emptyState(), revision: 1, entries }, undefined);
  const clock = new FakeClock(Date.parse('2026-06-01T00:00:00Z'));
  const deps = { store, clock, log: memoryLog(), notifier: new MemoryNotifier() };
  await scanExpiry(deps);
  const floorMs = median(() => {
    // Synchronous stand-in for loadState's work: the JSON parse of the stored state.
    const object = store.objects.get('state/truststore.json')!.at(-1)!;
    const state = JSON.parse(Buffer.from(object.body!).toString('utf8')) as {
      entries: { notAfter: string }[];
    };
    let min = Number.POSITIVE_INFINITY;
    for (const e of state.entries) min = Math.min(min, Date.parse(e.notAfter));
    if (!Number.isFinite(min)) throw new Error('no entries');
  }, 20);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    const r = await scanExpiry(deps);
    times.push(performance.now() - start);
    if (r.certificates !== 1000) throw new Error('scan lost entries');
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]!;
  report({ name: 'scan.1000', value: ms, unit: 'ms', floor: floorMs, ratio: ms / floorMs, target: '<= 2' });
};
