import { type KeyObject, X509Certificate } from 'node:crypto';
import { handleBatch } from '../shared/pipeline/batch.js';
import { indexFor } from '../shared/pipeline/revocation.js';
import { publishTruststore, recordVersion, saveState } from '../shared/pipeline/state-store.js';
import { intermediate, pemOf, root } from '../shared/pki/builder.js';
import { forgetSignatureAnswers, parseCertificate } from '../shared/pki/certificate.js';
import { readInput } from '../shared/pki/read.js';
import { buildReport, renderReport } from '../shared/report/index.js';
import { admit } from '../shared/truststore/admission.js';
import {
  emptyState,
  entryOf,
  KEYS,
  serializeState,
  type TruststoreState,
} from '../shared/truststore/state.js';
import { checkState } from '../shared/truststore/state-shape.js';
import { CountingStore } from '../test/fakes/counting-store.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { MemoryStore } from '../test/fakes/memory-store.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * A truststore of n CAs. P-256 only: 1000 mixed RSA-4096/RSA-2048/EC CAs render to over API
 * Gateway's ~1000 KB limit (and our own truststore.too-large rule); 1000 P-256 CAs fit, 10,000
 * do not (about 6.4 MB): an upload into 10,000 CAs is refused for size, judged and ingested alike.
 */
const stateWith = async (n: number): Promise<TruststoreState> => {
  const bundle = await caBundle(Math.max(1000, n), ['p256']);
  const entries = bundle.ders.slice(0, n).map((der) =>
    entryOf(parseCertificate(der), {
      partner: 'bench',
      upload: { key: 'inbox/bench/bundle.pem', version: '1' },
      addedAt: new Date().toISOString(),
      findings: [],
    }),
  );
  return { ...emptyState(), revision: 1, entries };
};

/** Floor for an upload: native parse + one verification per certificate against its issuer. */
const floor = (ders: readonly Uint8Array[], issuerOf: readonly number[]) => {
  const certs = ders.map((d) => new X509Certificate(d));
  const keys: KeyObject[] = certs.map((c) => c.publicKey);
  certs.forEach((c, i) => {
    if (!c.verify(keys[issuerOf[i]!]!)) throw new Error('floor: bad signature');
  });
};

/**
 * A store as the pipeline finds it between batches: the state of `n` CAs committed, its
 * truststore published and recorded, one domain serving it, and the upload in the inbox. Its
 * ETags are its version ids: S3 computes ETags on its side, so hashing them is not ingest's cost.
 * `cold`: the state document is one this process never saw (a cold start, or another writer's
 * state), so it is parsed and checked; otherwise it is the one this process wrote last (a warm
 * Lambda, `trustroll up`), recognised by its bytes.
 */
const storeWith = async (state: TruststoreState, upload: Uint8Array, cold: boolean) => {
  let etags = 0;
  const inner = new MemoryStore(() => `"e${++etags}"`);
  await saveState(inner, state, undefined);
  const version = await publishTruststore(inner, state, memoryLog());
  if (version) await recordVersion(inner, state.revision, version);
  if (cold) {
    // The same state, written as no process here wrote it (and never with these bytes before).
    const written = JSON.parse(inner.text(KEYS.state)) as TruststoreState;
    const fresh = { ...written, processed: { [`cold-${++colds}`]: { outcome: 'rejected', at: '' } } };
    await inner.put(KEYS.state, new Uint8Array(Buffer.from(JSON.stringify(fresh, null, 2))));
  }
  const gateway = new FakeGateway('api.example.com');
  if (version) await gateway.roll('api.example.com', version);
  const ref = {
    key: 'inbox/upload/ca.pem',
    version: (await inner.put('inbox/upload/ca.pem', upload)).version,
  };
  return { store: new CountingStore(inner), gateway, ref };
};

let colds = 0;

export const ingestBench = async (): Promise<void> => {
  note('# ingest (issues 3, 18): one 3-certificate upload into an existing truststore');
  const r = await root('CN=Bench Upload Root,O=Upload', { key: 'p256' });
  const i1 = await intermediate('CN=Bench Upload Policy CA,O=Upload', r, { pathLen: 1 });
  const i2 = await intermediate('CN=Bench Upload Issuing CA,O=Upload', i1);
  const upload = new Uint8Array(Buffer.from(pemOf(r, i1, i2)));
  const uploaded = new Set([r, i1, i2].map((c) => parseCertificate(c.der).fingerprint));
  const floorMs = median(() => floor([r.der, i1.der, i2.der], [0, 0, 1]), 50);
  const mixed = await caBundle(1000);
  note(
    `  (1000 mixed RSA/EC CAs render to ${(mixed.pem.length / 1000).toFixed(0)} KB, over API Gateway's ~1000 KB limit; ` +
      `the truststore here is P-256 CAs, ${((await caBundle(1000, ['p256'])).pem.length / 1000).toFixed(0)} KB at 1,000. ` +
      'At 10,000 CAs it is over the limit: the upload is refused for size, in the judging and in the whole ingest.)',
  );
  const whole = new Map<number, number>();
  for (const n of [100, 1000, 10_000]) {
    const state = await stateWith(n);
    const expected = n < 10_000;
    const judge = () => {
      const read = readInput({ name: 'upload.pem', bytes: upload });
      const [decision] = admit(
        state.entries,
        [{ id: 'u', certificates: read.certificates, inputFindings: read.findings }],
        { at: new Date(), expiringDays: 30 },
      );
      if (decision?.accepted !== expected)
        throw new Error(`bench upload was not judged as expected: ${JSON.stringify(decision?.findings)}`);
    };
    // The whole batch as the ingest Lambda runs it (handleBatch): read and judge the upload,
    // commit, publish, archive, alert, roll one domain; each run on a store of its own.
    // Judging and whole runs alternate, so both see the same load on a shared machine.
    const judged: number[] = [];
    const runs: number[] = [];
    const coldRuns: number[] = [];
    // CPU time too (this process, user + system): on a shared machine, wall time also counts the
    // time other processes had the cores.
    const judgedCpu: number[] = [];
    const runsCpu: number[] = [];
    let tally: CountingStore['tally'] | undefined;
    let moved = 0;
    judge();
    for (let i = 0; i < 15; i++) {
      for (const cold of [false, true]) {
        const { store, gateway, ref } = await storeWith(state, upload, cold);
        const deps = {
          store,
          gateway,
          notifier: new MemoryNotifier(),
          clock: new FakeClock(Date.now()),
          log: memoryLog(),
          config: { roll: { domains: ['api.example.com'], pollIntervalMs: 1, minUpdateIntervalMs: 0 } },
        };
        // A few judgings each time: the first may pay for the garbage the run before left.
        for (let j = 0; j < 5; j++) {
          // The upload's signatures checked each time, as for a new upload (the truststore's own
          // answers stay known, as in a warm process).
          forgetSignatureAnswers(uploaded);
          const start = performance.now();
          const cpu = process.cpuUsage();
          judge();
          judged.push(performance.now() - start);
          judgedCpu.push(cpuMs(cpu));
        }
        forgetSignatureAnswers(uploaded);
        const start = performance.now();
        const cpu = process.cpuUsage();
        const result = await handleBatch([{ kind: 'upload', ref }], deps);
        (cold ? coldRuns : runs).push(performance.now() - start);
        if (!cold) runsCpu.push(cpuMs(cpu));
        if (result.ingest.changed !== expected) throw new Error('bench ingest did not go as expected');
        if (!cold) {
          tally = store.tally;
          moved = store.bytesMoved();
        }
      }
    }
    const admitMs = middle(judged);
    report({
      name: `ingest.judge.3-into-${n}`,
      value: admitMs,
      unit: 'ms',
      floor: floorMs,
      ratio: admitMs / floorMs,
      target: 'flat in n',
    });
    const full = middle(runs.slice(1));
    whole.set(n, full);
    const refused = expected ? '' : ' (refused: size)';
    report({
      name: `ingest.whole.3-into-${n}${refused}, warm`,
      value: full,
      unit: 'ms',
      floor: admitMs,
      ratio: full / admitMs,
      target: '≤ 3 × judging',
    });
    const judgeCpu = middle(judgedCpu);
    const fullCpu = middle(runsCpu.slice(1));
    report({
      name: `ingest.whole.3-into-${n}${refused}, warm, CPU time`,
      value: fullCpu,
      unit: 'ms',
      floor: judgeCpu,
      ratio: fullCpu / judgeCpu,
      target: '≤ 3 × judging',
    });
    const cold = middle(coldRuns.slice(1));
    report({
      name: `ingest.whole.3-into-${n}${refused}, state parsed`,
      value: cold,
      unit: 'ms',
      floor: admitMs,
      ratio: cold / admitMs,
      target: '≤ 3 × judging',
    });
    // What the state document alone costs at this size: a write (entries' JSON kept) and a
    // parse with its check (a state this process has not seen).
    const text = Buffer.from(serializeState(state)).toString('utf8');
    const writeMs = median(() => serializeState({ ...state, revision: state.revision + 1 }), 15);
    const parseMs = median(() => checkState(JSON.parse(text)), 7);
    report({
      name: `ingest.state-document.${n}: write / parse + check`,
      value: writeMs,
      unit: `ms / ${parseMs.toFixed(2)} ms (${kb(text.length)})`,
    });
    if (expected) {
      // What a new version adds to the judging, each part on its own (warm: a new CA set of the
      // truststore's entries and the upload's, as the batch makes it): the revocation index, the
      // report (model, HTML and CSV) and one state write; the batch writes the state three times.
      const added = readInput({ name: 'upload.pem', bytes: upload }).certificates.map((c) =>
        entryOf(c.cert, {
          partner: 'upload',
          upload: { key: 'inbox/upload/ca.pem', version: '1' },
          addedAt: '',
          findings: [],
        }),
      );
      const next = (): TruststoreState => ({
        ...state,
        revision: state.revision + 1,
        entries: [...state.entries, ...added],
      });
      const store = new MemoryStore();
      const indexMs = await medianAsync(() => indexFor(store, next(), new Date()), 7);
      const reportMs = median(() => {
        const r = buildReport(next(), { now: new Date(), store: 'bench', revoked: new Map() });
        renderReport(r, 'html');
        renderReport(r, 'csv');
      }, 7);
      const stateMs = median(() => serializeState(next()), 7);
      report({
        name: `ingest.parts.3-into-${n}: revocation index / report (HTML + CSV) / one state write`,
        value: indexMs,
        unit: `ms / ${reportMs.toFixed(1)} ms / ${stateMs.toFixed(1)} ms (judging ${admitMs.toFixed(2)} ms)`,
      });
    }
    const t = tally!;
    report({
      name: `ingest.store.3-into-${n}: state reads / writes`,
      value: t.state.reads,
      unit: `reads, ${t.state.writes} writes (${kb(t.state.bytesRead)} read, ${kb(t.state.bytesWritten)} written)`,
      target: '1 / 1',
    });
    report({
      name: `ingest.store.3-into-${n}: bytes moved per batch`,
      value: moved / 1000,
      unit:
        `KB: truststore ${kb(t.truststore.bytesRead)} read, ${kb(t.truststore.bytesWritten)} written; ` +
        `other objects ${kb(t.other.bytesRead)} read, ${kb(t.other.bytesWritten)} written in ${t.other.reads + t.other.writes} requests; ` +
        `${t.state.other + t.truststore.other + t.other.other} HEAD/DELETE/LIST requests`,
    });
  }
  const base = whole.get(100)!;
  report({
    name: 'ingest.whole growth, 1,000 / 10,000 CAs against 100',
    value: whole.get(1000)! / base,
    unit: `×, ${(whole.get(10_000)! / base).toFixed(2)}×`,
    target: 'flat (1×)',
  });
};

/** CPU time (ms) this process used since `since`. */
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

const medianAsync = async (fn: () => Promise<unknown>, runs: number): Promise<number> => {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return middle(times);
};

const middle = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

const kb = (bytes: number) => `${(bytes / 1000).toFixed(0)} KB`;
