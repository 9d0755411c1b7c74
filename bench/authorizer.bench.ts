import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import { esbuildOptions } from '../infra/lambda-bundling.js';
import { parseCertificate } from '../shared/pki/certificate.js';
import { silentLog } from '../shared/ports.js';
import { DEFAULT_DOOR_SETTINGS, Door } from '../shared/revocation/authorizer.js';
import { IndexCache } from '../shared/revocation/cache.js';
import { buildIndex, indexSha256 } from '../shared/revocation/index.js';
import { RECORD, toRecords } from '../shared/revocation/records.js';
import { emptyRevocation, type HeldCrlRecord, REVOCATION_KEYS } from '../shared/revocation/state.js';
import { entryOf } from '../shared/truststore/state.js';
import { MemoryStore } from '../test/fakes/memory-store.js';
import { intermediate, leaf, root } from '../test/fixtures/pki.js';
import { httpAuthorizerEvent } from '../test/integration/lambda.js';
import { caBundle } from './fixtures.js';
import { note, report } from './report.js';

const CAS = 1_000;
const REVOKED = 1_000_000;

/** A garbage collection (for heap figures), without starting node with --expose-gc. */
const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** Median and p99 (ms) of `runs` timed calls of an async function, after `warm` untimed ones. */
const timed = async (fn: () => unknown, runs: number, warm = 1_000) => {
  for (let i = 0; i < warm; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p99: percentile(times, 99) };
};

/**
 * The Lambda authorizer's figures (issue 19): a warm decision against an index of 1,000 CAs and
 * 1,000,000 revoked serials (all on the client's issuer: the longest search), against verifying
 * the client certificate's signature natively; loading that index (time, heap, size); and the
 * authorizer bundle's cold start beside a bare handler with the S3 client only.
 */
export const authorizerBench = async (): Promise<void> => {
  note(
    `# Lambda authorizer (issue 19): ${CAS.toLocaleString('en')} CAs, ${REVOKED.toLocaleString('en')} revoked serials on the client's issuer`,
  );
  const bundle = await caBundle(CAS - 2, ['p256']);
  const r = await root('CN=Bench Authorizer Root,O=Gate');
  const i = await intermediate('CN=Bench Authorizer Issuing,O=Gate', r);
  const client = await leaf('CN=bench client,O=Gate', i, { key: 'p256' });
  const issuer = parseCertificate(i.der);
  const entries = [...bundle.ders, r.der, i.der].map((der, n) =>
    entryOf(parseCertificate(der), {
      partner: n >= CAS - 2 ? 'gate' : `bench-${n % 50}`,
      upload: { key: 'inbox/bench/ca.pem', version: '1' },
      addedAt: new Date().toISOString(),
      findings: [],
    }),
  );

  // The record set is built directly (no million certificates): random 16-byte serials.
  let t = performance.now();
  const serials = Array.from({ length: REVOKED }, () => ({
    serial: `7f${randomBytes(15).toString('hex')}`,
    reason: 1,
  }));
  const records = toRecords(serials);
  const recordsMs = performance.now() - t;
  const sha = indexSha256(records);
  const held: HeldCrlRecord = {
    issuer: issuer.fingerprint,
    scope: '',
    uris: [],
    onlyUser: false,
    onlyCA: false,
    number: '1',
    thisUpdate: new Date(Date.now() - 86_400_000).toISOString(),
    nextUpdate: new Date(Date.now() + 6 * 86_400_000).toISOString(),
    sha256: 'c'.repeat(64),
    serials: sha,
    entries: REVOKED,
    partner: 'gate',
    upload: { key: 'inbox/gate/crl/issuing.crl', version: '1' },
    acceptedAt: new Date().toISOString(),
  };
  t = performance.now();
  const bytes = buildIndex({
    entries,
    revocation: { ...emptyRevocation(), generation: 1, crls: { [`${issuer.fingerprint}/`]: held } },
    serials: () => records,
    revision: 1,
    truststoreSha256: 'a'.repeat(64),
    builtAt: new Date().toISOString(),
  });
  const buildMs = performance.now() - t;
  note(
    `  (record set of ${REVOKED.toLocaleString('en')} built in ${recordsMs.toFixed(0)} ms, index in ${buildMs.toFixed(0)} ms)`,
  );
  report({ name: 'authorizer.index.size', value: bytes.length / 1024 / 1024, unit: 'MiB' });
  report({
    name: 'authorizer.index.bytes-per-revoked',
    value: (bytes.length - 12) / REVOKED,
    unit: 'B',
    floor: RECORD,
    ratio: (bytes.length - 12) / REVOKED / RECORD,
  });

  const store = new MemoryStore(() => '"bench"');
  await store.put(REVOCATION_KEYS.index, bytes, { metadata: { sha256: indexSha256(bytes) } });

  // Index load as the cold start does it: HEAD, GET, SHA-256 check, header parsed. Heap: what
  // the loaded index keeps (the tables are one Buffer, counted under arrayBuffers).
  const loads: number[] = [];
  let kept: IndexCache | undefined;
  // S3 hands over fresh bytes on every GET; the memory store would hand over the same buffer.
  const copying = {
    head: store.head.bind(store),
    get: async (key: string, opts?: { version?: string }) => {
      const object = await store.get(key, opts);
      return { ...object, body: new Uint8Array(object.body) };
    },
  };
  for (let n = 0; n < 5; n++) {
    kept = undefined;
    gc();
    const before = process.memoryUsage();
    const start = performance.now();
    const cache = new IndexCache(
      { store: copying, clock: { now: () => new Date() }, log: silentLog },
      { refreshMs: 60_000, maxAgeMs: 900_000 },
    );
    const found = await cache.current();
    loads.push(performance.now() - start);
    if (!found.ok) throw new Error(found.reason);
    kept = cache;
    gc();
    const after = process.memoryUsage();
    // The first load only: later iterations' `before` still holds the previous index (the async
    // function's frame keeps the last iteration's variables until they are assigned again).
    if (n === 0) {
      report({
        name: 'authorizer.index.load-heap',
        value: (after.heapUsed - before.heapUsed) / 1024 / 1024,
        unit: 'MiB',
      });
      report({
        name: 'authorizer.index.load-buffers',
        value: (after.arrayBuffers - before.arrayBuffers) / 1024 / 1024,
        unit: 'MiB',
      });
    }
  }
  loads.sort((a, b) => a - b);
  report({ name: 'authorizer.index.load (median of 5)', value: percentile(loads, 50), unit: 'ms' });
  void kept;

  const door = new Door({ store, clock: { now: () => new Date() }, log: silentLog }, DEFAULT_DOOR_SETTINGS);
  await door.warm();
  const check = (await door.decide(client.pem, 'GET /orders/1')).decision;
  if (check !== 'allow') throw new Error(`bench client not allowed: ${check}`);
  // A revoked serial decides the same way: it must be found, not just missed.
  const revokedClient = await leaf('CN=bench revoked,O=Gate', i, {
    key: 'p256',
    serial: serials[REVOKED / 2]!.serial,
  });
  if ((await door.decide(revokedClient.pem, 'GET /orders/1')).decision !== 'deny')
    throw new Error('bench: the revoked client was allowed');

  const x509 = new X509Certificate(client.der);
  const key = new X509Certificate(i.der).publicKey;
  const floor = await timed(() => {
    if (!x509.verify(key)) throw new Error('floor: bad signature');
  }, 20_000);
  const warm = await timed(() => door.decide(client.pem, 'GET /orders/1'), 20_000);
  const denied = await timed(() => door.decide(revokedClient.pem, 'GET /orders/1'), 20_000);
  report({
    name: 'authorizer.decision.warm.median',
    value: warm.median,
    unit: 'ms',
    floor: floor.median,
    ratio: warm.median / floor.median,
    target: '<= 2',
  });
  report({
    name: 'authorizer.decision.warm.p99',
    value: warm.p99,
    unit: 'ms',
    floor: floor.p99,
    ratio: warm.p99 / floor.p99,
    target: '<= 1 ms, <= 2',
  });
  report({
    name: 'authorizer.decision.warm.revoked.p99',
    value: denied.p99,
    unit: 'ms',
    floor: floor.p99,
    ratio: denied.p99 / floor.p99,
  });
  const whole = await handlerWarm(bytes, client.pem);
  report({
    name: 'authorizer.handler.warm.median (middy + Powertools)',
    value: whole.median,
    unit: 'ms',
    floor: floor.median,
    ratio: whole.median / floor.median,
  });
  report({
    name: 'authorizer.handler.warm.p99 (middy + Powertools)',
    value: whole.p99,
    unit: 'ms',
    floor: floor.p99,
    ratio: whole.p99 / floor.p99,
  });
  // A client not seen before: its certificate parsed once (then cached by PEM).
  const fresh = await Promise.all(
    Array.from({ length: 200 }, (_, n) => leaf(`CN=fresh ${n},O=Gate`, i, { key: 'p256' })),
  );
  let next = 0;
  const cold = await timed(() => door.decide(fresh[next++]!.pem, 'GET /orders/1'), 190, 10);
  report({ name: 'authorizer.decision.new-client.median', value: cold.median, unit: 'ms' });

  await bundleColdStart();
};

/**
 * An S3 stand-in in a process of its own (the measured imports block this one): the index file
 * at `revocation/index.trx` (version `v1`, its SHA-256 as metadata) when one is given, 404 to
 * everything else.
 */
const fakeS3 = (indexFile?: string): Promise<{ endpoint: string; child: ChildProcess }> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(
      'node',
      [
        '-e',
        `const f = process.env.INDEX_FILE; const body = f ? require('fs').readFileSync(f) : undefined;
         const sha = body && require('crypto').createHash('sha256').update(body).digest('hex');
         require('http').createServer((q, s) => { q.resume(); q.on('end', () => {
           if (body && q.url.split('?')[0].endsWith('/revocation/index.trx')) {
             s.writeHead(200, { 'x-amz-version-id': 'v1', 'x-amz-meta-sha256': sha, etag: '"e"', 'content-length': body.length, 'content-type': 'application/octet-stream' });
             s.end(q.method === 'HEAD' ? undefined : body);
             return;
           }
           s.statusCode = 404; s.setHeader('content-type', 'application/xml');
           s.end(q.method === 'HEAD' ? undefined : '<Error><Code>NoSuchKey</Code><Message>none</Message></Error>');
         }); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...(indexFile ? { INDEX_FILE: indexFile } : {}) },
      },
    );
    child.stdout!.once('data', (d) =>
      resolvePromise({ endpoint: `http://127.0.0.1:${String(d).trim()}`, child }),
    );
    child.once('error', reject);
  });

/**
 * The whole warm invocation as Lambda runs it (middy, Powertools logger and metrics, the
 * response built), the handler imported in this process over the stand-in serving the index.
 * Its stdout (one EMF document per invocation) is dropped while timed.
 */
const handlerWarm = async (bytes: Uint8Array, pem: string) => {
  const file = join('.bench-cache', 'authorizer-index.trx');
  mkdirSync('.bench-cache', { recursive: true });
  writeFileSync(file, bytes);
  const { endpoint, child } = await fakeS3(file);
  try {
    Object.assign(process.env, {
      TRUSTROLL_BUCKET: 'bench-bucket',
      TRUSTROLL_AWS_ENDPOINT: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    const { handler } = await import('../functions/authorizer/handler.js');
    const invoke = handler as unknown as (e: unknown, c: unknown) => Promise<{ isAuthorized?: boolean }>;
    const context = { functionName: 'bench', awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 };
    const event = httpAuthorizerEvent(pem, { method: 'GET', path: '/orders/1' });
    const write = process.stdout.write;
    process.stdout.write = (() => true) as never;
    try {
      const first = await invoke(event, context);
      if (!first.isAuthorized) throw new Error('bench: the handler did not allow the client');
      return await timed(() => invoke(event, context), 20_000);
    } finally {
      process.stdout.write = write;
    }
  } finally {
    child.kill();
  }
};

/**
 * Cold start of the authorizer bundle (as the construct deploys it) against a bare handler with
 * the S3 client only that makes the same one call at init (a HEAD answered 404 by a local
 * stand-in: the authorizer reads its index at init), alternated, median of 15.
 */
const bundleColdStart = async () => {
  const outdir = join('.bench-cache', 'functions', 'authorizer');
  const file = join(outdir, 'authorizer', 'index.mjs');
  const bare = join(outdir, 'bare-s3', 'index.mjs');
  await build({ ...esbuildOptions([]), entryPoints: ['functions/authorizer/handler.ts'], outfile: file });
  await build({ ...esbuildOptions([]), entryPoints: ['bench/bare-s3-handler.ts'], outfile: bare });
  const { endpoint, child } = await fakeS3();
  try {
    const env = {
      ...process.env,
      TRUSTROLL_BUCKET: 'bench-bucket',
      TRUSTROLL_AWS_ENDPOINT: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    const importOnce = (f: string) => {
      const r = spawnSync(
        'node',
        [
          '--input-type=module',
          '-e',
          `const t = performance.now(); await import(${JSON.stringify(`file://${resolve(f)}`)}); console.log(performance.now() - t);`,
        ],
        { encoding: 'utf8', env },
      );
      if (r.status !== 0) throw new Error(`importing ${f} failed: ${r.stderr}`);
      return Number(r.stdout.trim().split('\n').at(-1));
    };
    // spawnSync blocks this process, not the stand-in's.
    const a: number[] = [];
    const b: number[] = [];
    for (let n = 0; n < 15; n++) {
      a.push(importOnce(file));
      b.push(importOnce(bare));
    }
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    const size = statSync(file).size;
    const bareSize = statSync(bare).size;
    report({
      name: 'bundle.authorizer.size',
      value: size / 1024,
      unit: 'KiB',
      floor: bareSize / 1024,
      ratio: size / bareSize,
    });
    report({
      name: 'bundle.authorizer.cold-start (import + index check)',
      value: percentile(a, 50),
      unit: 'ms',
      floor: percentile(b, 50),
      ratio: percentile(a, 50) / percentile(b, 50),
      target: '<= 1.3',
    });
  } finally {
    child.kill();
  }
};
