import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { LocalEndpoint } from '../shared/adapters/local/endpoint.js';
import { partnerChain, pemOf, privateKeyPem } from '../shared/pki/builder.js';
import { memoryLog } from '../test/fakes/fakes.js';
import { caBundle } from './fixtures.js';
import { median as medianOf, note, report } from './report.js';

/**
 * The local mode as people run it (issue 18): `trustroll up` with its defaults over a store of
 * n CAs, measured from outside as a whole process.
 * - landing → serving: a partner's new CA bundle is written into the inbox; the clock stops at
 *   the first request its client makes that the endpoint answers 200 (median of RUNS);
 * - idle CPU: utime + stime of the `up` process from /proc over IDLE_S seconds with nothing to do;
 * - endpoint reload: a roll to a version that adds 3 CAs to n, and the first load of n, in-process.
 */
const RUNS = 5;
const IDLE_S = 30;
const CLK_TCK = 100;

const PEM = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g;

/** The first n CAs of the cached 1,000 P-256 bundle (roots first, every intermediate's root among them). */
const truststoreOf = async (n: number, total = 1000): Promise<string> => {
  const pems = (await caBundle(total, ['p256'])).pem.match(PEM) ?? [];
  if (pems.length < n) throw new Error(`bench bundle holds ${pems.length} CAs, not ${n}`);
  return pems.slice(0, n).join('');
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Up {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly port: number;
  readonly output: () => string;
}

/** A folder whose store already holds n CAs (ingested once by `trustroll ingest`), then `up` on it. */
const startUp = async (n: number): Promise<Up> => {
  const dir = mkdtempSync(join(tmpdir(), `trustroll-bench-local-${n}-`));
  mkdirSync(join(dir, 'inbox', 'bench'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'bench', 'bundle.pem'), await truststoreOf(n));
  const ingest = spawnSync('node', [resolve('bin/trustroll.mjs'), 'ingest', '--json'], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (ingest.status !== 0) throw new Error(`bench ingest failed: ${ingest.stdout}${ingest.stderr}`);
  const child = spawn('node', [resolve('bin/trustroll.mjs'), 'up', '--port', '0', '--no-demo'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  let port: number | undefined;
  while (!port && Date.now() < deadline) {
    port = Number(/endpoint {3}https:\/\/localhost:(\d+)\//.exec(out)?.[1]) || undefined;
    await sleep(50);
  }
  if (!port) throw new Error(`trustroll up did not start:\n${out}`);
  return { child, dir, port, output: () => out };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One HTTPS request with a client certificate: the status, or 0 when the handshake was refused. */
const status = (port: number, ca: string, cert: string, key: string): Promise<number> =>
  new Promise((done) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: '/', ca, cert, key, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', () => done(0));
    req.setTimeout(5_000, () => req.destroy());
    req.end();
  });

/**
 * Writes a new partner's bundle into the inbox (hidden name, then renamed into place) and times
 * until its client is served. Requests start once `up` logs a reload, so that the bench's own
 * refused handshakes do not slow the process measured on a 2-core machine.
 */
const landing = async (up: Up, run: number): Promise<number> => {
  const partner = await partnerChain(`Landing${run}`);
  const ca = readFileSync(join(up.dir, '.trustroll', 'endpoint', 'ca.pem'), 'utf8');
  const cert = partner.client.pem;
  const key = privateKeyPem(partner.client);
  const folder = join(up.dir, 'inbox', `landing${run}`);
  mkdirSync(folder, { recursive: true });
  // Let the new folder's own events settle: the clock measures the file, not the mkdir.
  await sleep(500);
  const reloads = () => up.output().split('endpoint reloaded').length;
  const before = reloads();
  const tmp = join(folder, '.bundle.pem.tmp');
  writeFileSync(tmp, pemOf(partner.root, partner.intermediate));
  const start = performance.now();
  renameSync(tmp, join(folder, 'bundle.pem'));
  for (;;) {
    if (performance.now() - start > 30_000) throw new Error(`never served:\n${up.output()}`);
    if (reloads() > before && (await status(up.port, ca, cert, key)) === 200) break;
    await sleep(2);
  }
  return performance.now() - start;
};

/** CPU (user + system) of a process, in seconds, from /proc/<pid>/stat. */
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
};

const idleCpu = async (up: Up): Promise<number> => {
  await sleep(3_000);
  const before = cpuSeconds(up.child.pid!);
  const start = performance.now();
  await sleep(IDLE_S * 1000);
  const used = cpuSeconds(up.child.pid!) - before;
  return (100 * used) / ((performance.now() - start) / 1000);
};

const stop = async (up: Up) => {
  const exited = new Promise((r) => up.child.once('exit', r));
  up.child.kill('SIGINT');
  await exited;
};

/** The endpoint alone: first load of n CAs, then a roll to n + 3 (a 3-CA upload accepted). */
const reload = async (n: number, total: number) => {
  const base = await truststoreOf(n, total);
  const added = (await truststoreOf(total, total))
    .match(PEM)!
    .slice(n, n + 3)
    .join('');
  const versions: Record<string, string> = { a: base, b: base + added };
  const { serverCert, serverKey, noTruststoreCa } = await endpointMaterial();
  const endpoint = new LocalEndpoint({
    loadTruststore: async (v) => new Uint8Array(Buffer.from(versions[v]!)),
    judged: true,
    domain: 'localhost',
    host: '127.0.0.1',
    port: 0,
    serverCert,
    serverKey,
    noTruststoreCa,
    log: memoryLog(),
  });
  let start = performance.now();
  await endpoint.start('a');
  const first = performance.now() - start;
  start = performance.now();
  await endpoint.roll('localhost', 'b');
  const roll = performance.now() - start;
  await endpoint.stop();
  return { first, roll };
};

const endpointMaterial = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-bench-endpoint-'));
  const { endpointMaterial: make } = await import('../cli/local.js');
  return make({ dataDir: dir, inboxDir: join(dir, 'inbox') });
};

export const localBench = async (): Promise<void> => {
  note('# local mode (issue 18): trustroll up with its defaults, as a whole process');
  const build = spawnSync('node', ['scripts/build.mjs'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  for (const n of [20, 600]) {
    const up = await startUp(n);
    try {
      const runs: number[] = [];
      for (let run = 0; run < RUNS; run++) runs.push(await landing(up, run));
      report({
        name: `up.landing-to-serving, ${n} CAs (median of ${RUNS})`,
        value: median(runs),
        unit: 'ms',
        target: '≤ 500 ms',
      });
      note(`  runs: ${runs.map((r) => r.toFixed(0)).join(', ')} ms`);
      report({
        name: `up.idle-cpu, ${n + RUNS * 2} CAs (${IDLE_S} s)`,
        value: await idleCpu(up),
        unit: '% of a core',
      });
    } finally {
      await stop(up);
    }
  }
  const big = await startUp(1000);
  try {
    report({
      name: `up.idle-cpu, 1000 CAs (${IDLE_S} s)`,
      value: await idleCpu(big),
      unit: '% of a core',
      target: '≤ 1%',
    });
  } finally {
    await stop(big);
  }
  for (const [n, total] of [
    [1000, 1000],
    [10_000, 10_000],
  ] as const) {
    const r = await reload(n - 3, total);
    report({ name: `endpoint.first-load, ${n - 3} CAs`, value: r.first, unit: 'ms' });
    report({
      name: `endpoint.reload, ${n - 3} + 3 CAs (adds to the live context)`,
      value: r.roll,
      unit: 'ms',
    });
  }
  // Why a new TLS context is slow (what a roll that removes a CA still pays): OpenSSL 3.0 reads
  // each CA certificate slowly and re-sorts its store after every one it adds.
  const pems = (await truststoreOf(1000)).match(PEM)!;
  const one = medianOf(() => createSecureContext({ ca: pems.join('') }), 3);
  const each = medianOf(() => createSecureContext({ ca: pems }), 3);
  const parse = medianOf(() => {
    for (const pem of pems) new X509Certificate(pem);
  }, 3);
  const few = medianOf(() => createSecureContext({ ca: pems.slice(0, 250).join('') }), 3);
  report({ name: 'tls.createSecureContext, 1000 CAs as one PEM string', value: one, unit: 'ms' });
  report({ name: 'tls.createSecureContext, 1000 CAs one by one (array)', value: each, unit: 'ms' });
  report({ name: 'tls.createSecureContext, 250 CAs (x4: linear floor)', value: few * 4, unit: 'ms' });
  report({ name: 'OpenSSL parse alone (X509Certificate), 1000 CAs', value: parse, unit: 'ms' });
};
