import { type KeyObject, X509Certificate } from 'node:crypto';
import { ingestUploads } from '../shared/pipeline/ingest.js';
import { saveState } from '../shared/pipeline/state-store.js';
import { intermediate, pemOf, root } from '../shared/pki/builder.js';
import { parseCertificate } from '../shared/pki/certificate.js';
import { readInput } from '../shared/pki/read.js';
import { admit } from '../shared/truststore/admission.js';
import { emptyState, entryOf, type TruststoreState } from '../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { MemoryStore } from '../test/fakes/memory-store.js';
import { caBundle } from './fixtures.js';
import { median, note, report } from './report.js';

/**
 * A truststore of n CAs. P-256 only: 1000 mixed RSA-4096/RSA-2048/EC CAs render to over API
 * Gateway's ~1000 KB limit (and our own truststore.too-large rule); 1000 P-256 CAs fit.
 */
const stateWith = async (n: number): Promise<TruststoreState> => {
  const bundle = await caBundle(1000, ['p256']);
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

export const ingestBench = async (): Promise<void> => {
  note('# ingest (issue 3): one 3-certificate upload into an existing truststore, compute only');
  const r = await root('CN=Bench Upload Root,O=Upload', { key: 'p256' });
  const i1 = await intermediate('CN=Bench Upload Policy CA,O=Upload', r, { pathLen: 1 });
  const i2 = await intermediate('CN=Bench Upload Issuing CA,O=Upload', i1);
  const upload = new Uint8Array(Buffer.from(pemOf(r, i1, i2)));
  const floorMs = median(() => floor([r.der, i1.der, i2.der], [0, 0, 1]), 50);
  for (const n of [100, 1000]) {
    const state = await stateWith(n);
    const admitMs = median(() => {
      const read = readInput({ name: 'upload.pem', bytes: upload });
      const [decision] = admit(
        state.entries,
        [{ id: 'u', certificates: read.certificates, inputFindings: read.findings }],
        {
          at: new Date(),
          expiringDays: 30,
        },
      );
      if (!decision?.accepted) throw new Error(`bench upload was not accepted: ${JSON.stringify(decision)}`);
    }, 50);
    report({
      name: `ingest.judge.3-into-${n}`,
      value: admitMs,
      unit: 'ms',
      floor: floorMs,
      ratio: admitMs / floorMs,
      target: 'flat in n',
    });
  }

  const mixed = await caBundle(1000);
  note(
    `  (1000 mixed RSA/EC CAs render to ${(mixed.pem.length / 1000).toFixed(0)} KB, over API Gateway's ~1000 KB limit; ` +
      `the truststore here is 1000 P-256 CAs, ${((await caBundle(1000, ['p256'])).pem.length / 1000).toFixed(0)} KB)`,
  );
  const state = await stateWith(1000);
  const runs: number[] = [];
  for (let i = 0; i < 8; i++) {
    const store = new MemoryStore();
    await saveState(store, state, undefined);
    const { version } = await store.put('inbox/upload/ca.pem', upload);
    const deps = {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(Date.now()),
      log: memoryLog(),
      config: { roll: { domains: [] } },
    };
    const start = performance.now();
    const result = await ingestUploads([{ key: 'inbox/upload/ca.pem', version }], deps);
    runs.push(performance.now() - start);
    if (!result.changed) throw new Error('bench ingest changed nothing');
  }
  runs.sort((a, b) => a - b);
  const full = runs[Math.floor(runs.length / 2)]!;
  report({
    name: 'ingest.full.3-into-1000 (in-memory store, incl. state JSON)',
    value: full,
    unit: 'ms',
    floor: floorMs,
    ratio: full / floorMs,
  });
};
