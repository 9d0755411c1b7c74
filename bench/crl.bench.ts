import { sign } from 'node:crypto';
import { ingestUploads } from '../shared/pipeline/ingest.js';
import { loadIndex } from '../shared/pipeline/revocation.js';
import { partnerChain, pemOf, privateKeyObject, toBytes } from '../shared/pki/builder.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../test/fakes/fakes.js';
import { MemoryStore } from '../test/fakes/memory-store.js';
import { note, report } from './report.js';

/**
 * A partner's CRL through the whole ingest (read, judged — signature included —, its serials
 * made a record set, the state committed, the revocation index rebuilt and published), for
 * 100,000 and 1,000,000 revoked entries: wall time, and the heap it takes at its peak. The CRL is
 * made here as DER (a real signature by the partner's issuing CA), not by a library: a library
 * takes minutes for a million entries.
 */
export const crlBench = async (): Promise<void> => {
  note('# CRL ingest (issue 19): a signed CRL of N revoked entries, whole ingest into a store');
  const acme = await partnerChain('Acme');
  for (const n of process.env.CRL_BENCH_N ? [Number(process.env.CRL_BENCH_N)] : [100_000, 1_000_000]) {
    const store = new MemoryStore();
    const clock = new FakeClock(Date.now());
    const deps = {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock,
      log: memoryLog(),
      config: { roll: { domains: [] } },
    };
    const ca = await store.put('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    const first = await ingestUploads([{ key: 'inbox/acme/ca.pem', version: ca.version }], deps);
    if (first.uploads[0]?.outcome !== 'accepted') throw new Error(JSON.stringify(first.uploads[0]));
    const der = signedCrlForBench(acme.intermediate.cert.rawData, privateKeyObject(acme.intermediate), n);
    const up = await store.put('inbox/acme/crl/big.crl', der);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = heapBefore;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 5);
    const start = performance.now();
    const result = await ingestUploads([{ key: 'inbox/acme/crl/big.crl', version: up.version }], {
      ...deps,
      config: { ...deps.config, maxCrlBytes: 100 * 1024 * 1024 },
    });
    const ms = performance.now() - start;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    if (result.uploads[0]?.outcome !== 'accepted')
      throw new Error(`bench CRL not accepted: ${JSON.stringify(result.uploads[0]?.findings)}`);
    const index = await loadIndex(store);
    if (index?.index.header.revoked !== n) throw new Error('index does not hold every entry');
    report({
      name: `CRL ingest, ${n.toLocaleString('en')} entries (${(der.length / 1e6).toFixed(1)} MB DER)`,
      value: ms,
      unit: 'ms',
    });
    report({ name: `  heap growth at peak`, value: (peak - heapBefore) / 1048576, unit: 'MiB' });
  }
};

/** DER of a v2 CRL with `n` entries (serials 1..n, 8 bytes each) signed by the issuer's key. */
export const signedCrlForBench = (
  issuerDer: ArrayBuffer,
  key: ReturnType<typeof privateKeyObject>,
  n: number,
): Uint8Array => {
  const issuerName = subjectOf(new Uint8Array(issuerDer));
  const alg =
    key.asymmetricKeyType === 'ec'
      ? tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex'))) // ecdsa-with-SHA256
      : tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from('2a864886f70d01010b', 'hex')), Buffer.from([5, 0])]));
  const time = (d: Date) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));
  const now = Date.now();
  const revokedAt = time(new Date(now - 30 * 86_400_000));
  const entries: Buffer[] = [];
  const serial = Buffer.alloc(9);
  for (let i = 1; i <= n; i++) {
    serial[0] = 0x00; // positive, 8 bytes of magnitude below
    serial.writeBigUInt64BE(BigInt(i) | 0x4000000000000000n, 1);
    entries.push(tlv(0x30, Buffer.concat([tlv(0x02, serial.subarray(1)), revokedAt])));
  }
  const crlNumber = tlv(
    0xa0,
    tlv(
      0x30,
      tlv(
        0x30,
        Buffer.concat([tlv(0x06, Buffer.from('551d14', 'hex')), tlv(0x04, tlv(0x02, Buffer.from([1])))]),
      ),
    ),
  );
  const tbs = tlv(
    0x30,
    Buffer.concat([
      tlv(0x02, Buffer.from([1])),
      alg,
      issuerName,
      time(new Date(now - 86_400_000)),
      time(new Date(now + 7 * 86_400_000)),
      tlv(0x30, Buffer.concat(entries)),
      crlNumber,
    ]),
  );
  const signature = sign('sha256', tbs, key);
  return new Uint8Array(
    tlv(0x30, Buffer.concat([tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))])),
  );
};

const tlv = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const head =
    n < 0x80
      ? Buffer.from([tag, n])
      : n < 0x100
        ? Buffer.from([tag, 0x81, n])
        : n < 0x10000
          ? Buffer.from([tag, 0x82, n >> 8, n & 0xff])
          : n < 0x1000000
            ? Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
            : Buffer.from([tag, 0x84, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, content]);
};

/** The subject Name TLV of a DER certificate (tbs: [0] version, serial, alg, issuer, validity, subject). */
const subjectOf = (der: Uint8Array): Buffer => {
  const read = (buf: Uint8Array, at: number) => {
    let pos = at + 1;
    let len = buf[pos++]!;
    if (len & 0x80) {
      const count = len & 0x7f;
      len = 0;
      for (let i = 0; i < count; i++) len = len * 256 + buf[pos++]!;
    }
    return { start: at, content: pos, end: pos + len };
  };
  const cert = read(der, 0);
  const tbs = read(der, cert.content);
  let at = tbs.content;
  const fields: { start: number; end: number }[] = [];
  while (at < tbs.end && fields.length < 6) {
    const f = read(der, at);
    fields.push(f);
    at = f.end;
  }
  const subject = fields[5]!;
  return Buffer.from(der.subarray(subject.start, subject.end));
};
