import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VersionedFolderStore } from '../shared/adapters/local/folder-store.js';
import * as builder from '../shared/pki/builder.js';
import { toPem } from '../shared/pki/certificate.js';
import { KEYS } from '../shared/truststore/state.js';
import { pemOf, root } from '../test/fixtures/pki.js';
import { caBundle } from './fixtures.js';
import { alternate, type ProcessCase, type ProcessFigures } from './process.js';
import { note, report } from './report.js';

const BIN = resolve('bin/trustroll.mjs');

/**
 * A Python with `cryptography`, for the peer of `lint`: the project venv that the tests'
 * bootstrap makes (`node scripts/moto.mjs install` pins cryptography), made here when absent.
 */
const peerPython = (): string | undefined => {
  const venvPython = join(resolve(process.env.TRUSTROLL_VENV ?? '.venv'), 'bin', 'python');
  const works = (python: string) =>
    spawnSync(python, ['-c', 'import cryptography.x509'], { stdio: 'ignore' }).status === 0;
  if (existsSync(venvPython) && works(venvPython)) return venvPython;
  if (works('python3')) return 'python3';
  if (spawnSync('python3', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  note('  (installing the project venv with cryptography: node scripts/moto.mjs install)');
  try {
    execFileSync('node', ['scripts/moto.mjs', 'install'], { stdio: ['ignore', 2, 2] });
  } catch {
    return undefined;
  }
  return works(venvPython) ? venvPython : undefined;
};

/**
 * trustroll as people run it: whole processes, alternated, medians (see process.ts).
 * - start-up: `--help` and `lint` of one certificate against `node -e 0`;
 * - `npx trustroll --help` against `node bin/trustroll.mjs --help`, and what npx alone costs
 *   (npx running a one-line bin of a package with no dependencies, against node running it);
 * - `lint` of 100 / 1,000 / 10,000 CAs against Python `cryptography` parsing the same bundle and
 *   verifying every signature (bench/peer_lint.py), and against a minimal Node script doing the
 *   same (bench/peer-lint.mjs: Node's own floor for that work); wall and CPU time, peak RSS.
 */
export const cliBench = async (): Promise<void> => {
  note('# trustroll as a process (issue 18): start-up, npx, lint vs. Python cryptography, memory');
  note(
    '  whole processes, alternated, medians; wall time without a wrapper, CPU and peak RSS through GNU time',
  );
  execFileSync('node', ['scripts/build.mjs'], { stdio: ['ignore', 2, 2] });
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-bench-cli-'));

  const one = join(dir, 'one-root.pem');
  writeFileSync(one, pemOf(await root('CN=Bench One Root,O=Bench', { key: 'p256' })));
  const node0: ProcessCase = { name: 'node -e 0', command: 'node', args: ['-e', '0'] };
  const help: ProcessCase = { name: '--help', command: 'node', args: [BIN, '--help'] };
  const lintOne: ProcessCase = { name: 'lint 1', command: 'node', args: [BIN, 'lint', one] };
  const [base, helpRun, lintRun] = alternate([node0, help, lintOne], 21, { rusage: false });
  // CPU time too: on a shared machine the load lengthens wall times, CPU time much less.
  const [baseCpu, helpCpu, lintCpu] = alternate([node0, help, lintOne], 21);
  for (const [name, run, cpu] of [
    ['startup.help', helpRun!, helpCpu!],
    ['startup.lint-one-certificate', lintRun!, lintCpu!],
  ] as const) {
    report({
      name: `${name}.wall`,
      value: run.wallMs,
      unit: 'ms',
      floor: base!.wallMs,
      ratio: run.wallMs / base!.wallMs,
      target: '<= 1.5 (node -e 0)',
    });
    if (cpu.meanCpuMs !== undefined && baseCpu!.meanCpuMs !== undefined)
      report({
        name: `${name}.cpu`,
        value: cpu.meanCpuMs,
        unit: 'ms',
        floor: baseCpu!.meanCpuMs,
        ratio: cpu.meanCpuMs / baseCpu!.meanCpuMs,
      });
  }

  loadedBench(dir, one);

  // npx in a package with no dependencies and a one-line bin: what npx costs by itself.
  const bare = join(dir, 'npx-bare');
  mkdirSync(join(bare, 'bin'), { recursive: true });
  writeFileSync(
    join(bare, 'package.json'),
    JSON.stringify({
      name: 'trustroll-bench-bare',
      version: '0.0.0',
      private: true,
      bin: { 'trustroll-bench-bare': 'bin/x.mjs' },
    }),
  );
  writeFileSync(join(bare, 'bin', 'x.mjs'), '#!/usr/bin/env node\n');
  const inBare = { cwd: bare };
  const [npxRun, nodeRun, npxBare, nodeBare] = alternate(
    [
      // --offline: both resolve a local bin; nothing is to be looked up in the registry.
      { name: 'npx trustroll --help', command: 'npx', args: ['--offline', 'trustroll', '--help'] },
      help,
      { name: 'npx bare', command: 'npx', args: ['--offline', 'trustroll-bench-bare'], ...inBare },
      { name: 'node bin/x.mjs', command: 'node', args: [join(bare, 'bin', 'x.mjs')] },
    ],
    7,
    { rusage: false },
  );
  report({
    name: 'startup.npx-help',
    value: npxRun!.wallMs,
    unit: 'ms',
    floor: nodeRun!.wallMs,
    ratio: npxRun!.wallMs / nodeRun!.wallMs,
  });
  report({
    name: 'startup.npx-own-cost (npx minus node, trustroll vs an empty package)',
    value: npxRun!.wallMs - nodeRun!.wallMs,
    unit: 'ms',
    floor: npxBare!.wallMs - nodeBare!.wallMs,
    ratio: (npxRun!.wallMs - nodeRun!.wallMs) / (npxBare!.wallMs - nodeBare!.wallMs),
  });

  const python = peerPython();
  if (!python) note('  (no python3 with cryptography: the Python peer of lint is skipped)');
  for (const n of [100, 1000, 10000]) {
    const bundle = join(dir, `bundle-${n}.pem`);
    writeFileSync(bundle, (await caBundle(n)).pem);
    const cases: ProcessCase[] = [
      // Exit 1: a 1,000-CA bundle of RSA-4096 keys is over API Gateway's size (truststore.too-large).
      { name: 'lint', command: 'node', args: [BIN, 'lint', bundle], ok: [0, 1] },
      { name: 'node floor', command: 'node', args: ['bench/peer-lint.mjs', bundle] },
      ...(python ? [{ name: 'python', command: python, args: ['bench/peer_lint.py', bundle] }] : []),
    ];
    const [lint, floor, peer] = alternate(cases, n >= 10000 ? 3 : n >= 1000 ? 5 : 9);
    const against = (what: string, other: typeof lint, target?: string) => {
      report({
        name: `process.lint.${n}.wall-vs-${what}`,
        value: lint!.wallMs,
        unit: 'ms',
        floor: other!.wallMs,
        ratio: lint!.wallMs / other!.wallMs,
        ...(target ? { target } : {}),
      });
      if (lint!.cpuMs !== undefined && other!.cpuMs !== undefined)
        report({
          name: `process.lint.${n}.cpu-vs-${what}`,
          value: lint!.cpuMs,
          unit: 'ms',
          floor: other!.cpuMs,
          ratio: lint!.cpuMs / other!.cpuMs,
        });
    };
    if (peer) against('python', peer, '< 1');
    against('node-floor', floor);
    if (lint!.peakRssMiB !== undefined)
      report({
        name: `process.lint.${n}.peak-rss${peer ? '-vs-python' : ''}`,
        value: lint!.peakRssMiB,
        unit: 'MiB',
        ...(peer?.peakRssMiB !== undefined
          ? { floor: peer.peakRssMiB, ratio: lint!.peakRssMiB / peer.peakRssMiB }
          : {}),
      });
  }
  if (python) verifyBench(python);
  await storeReadBench(dir, help);
};

/**
 * What `--help` and `lint` of one certificate load (the modules a preloaded hook records, the
 * hook of test/e2e/loads.test.ts), against the whole CLI (dist/trustroll.mjs and every chunk).
 */
export const loadedBench = (dir: string, one: string): void => {
  const all = [
    resolve('dist/trustroll.mjs'),
    ...readdirSync('dist/chunks').map((f) => resolve('dist/chunks', f)),
  ];
  const whole = all.filter((f) => f.endsWith('.mjs')).reduce((sum, f) => sum + statSync(f).size, 0);
  for (const [name, args] of [
    ['help', ['--help']],
    ['lint-one-certificate', ['lint', one]],
  ] as const) {
    const log = join(dir, `loaded-${name}.log`);
    execFileSync('node', ['--import', resolve('test/fixtures/loaded-modules.mjs'), BIN, ...args], {
      env: { ...process.env, TRUSTROLL_LOADED_LOG: log },
      stdio: 'ignore',
    });
    const files = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('file:'))
      .map((l) => fileURLToPath(l));
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    report({
      name: `startup.${name}.loaded (${files.length} files of the CLI's ${all.length + 1})`,
      value: bytes / 1024,
      unit: 'KiB',
      floor: whole / 1024,
      ratio: bytes / whole,
    });
  }
};

/**
 * One signature check per key kind, Node's OpenSSL against Python `cryptography`'s own (in
 * process, 400 each): the part of lint's CPU gap to Python that is the library's, not trustroll's.
 */
export const verifyBench = (python: string): void => {
  const peer = new Map(
    execFileSync(python, ['bench/peer_verify.py'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string])
      .map(([kind, us]) => [kind, Number(us)]),
  );
  const message = Buffer.alloc(500, 'x');
  const kinds = [
    ['p256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'sha256'],
    ['p384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'sha384'],
    ['rsa2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'sha256'],
  ] as const;
  for (const [kind, keys, hash] of kinds) {
    const { privateKey, publicKey } = keys();
    const signature = sign(hash, message, privateKey);
    verify(hash, message, publicKey, signature);
    const start = performance.now();
    for (let i = 0; i < 400; i++) verify(hash, message, publicKey, signature);
    const us = ((performance.now() - start) / 400) * 1000;
    const theirs = peer.get(kind);
    report({
      name: `verify.${kind}.node-vs-python (µs per signature, OpenSSL ${process.versions.openssl})`,
      value: us,
      unit: 'µs',
      ...(theirs ? { floor: theirs, ratio: us / theirs } : {}),
    });
  }
};

/**
 * Commands that read a store of 1,000 CAs, as whole processes (CPU time: what a command, or a cold
 * Lambda, pays before anything is shown): `history`, `status` and `report`, on the document as
 * trustroll writes it (sealed: read without parsing a certificate) and on the same document without
 * its seal (as a trustroll before the seal wrote it: every certificate parsed and compared), and
 * `ingest` of a 3-CA upload into it against `lint` of that upload (the judging, as a process).
 */
export const storeReadBench = async (dir: string, help: ProcessCase): Promise<void> => {
  note('# reading a store of 1,000 CAs as a process (issue 18): sealed state vs. every certificate parsed');
  const base = join(dir, 'store-1000');
  const bulk = join(base, 'inbox-bulk', 'bench');
  mkdirSync(bulk, { recursive: true });
  writeFileSync(
    join(bulk, 'bundle.pem'),
    (await caBundle(1000, ['p256'])).ders.map((d) => toPem(d)).join(''),
  );
  const data = join(base, 'data');
  execFileSync('node', [BIN, 'ingest', '--data-dir', data, '--inbox', join(base, 'inbox-bulk')], {
    stdio: 'ignore',
  });
  // The upload: a root, a policy CA and an issuing CA, valid from now.
  const r = await builder.root('CN=Bench Upload Root,O=Upload', { key: 'p256' });
  const i1 = await builder.intermediate('CN=Bench Upload Policy CA,O=Upload', r, { pathLen: 1 });
  const i2 = await builder.intermediate('CN=Bench Upload Issuing CA,O=Upload', i1);
  mkdirSync(join(base, 'inbox', 'up'), { recursive: true });
  const upload = join(base, 'inbox', 'up', 'ca.pem');
  writeFileSync(upload, pemOf(r, i1, i2));
  // The same store, its state written again without the seal.
  const unsealed = join(dir, 'store-1000-unsealed');
  cpSync(base, unsealed, { recursive: true });
  const store = new VersionedFolderStore(join(unsealed, 'data', 'store'));
  const current = await store.get(KEYS.state);
  const doc = JSON.parse(Buffer.from(current.body).toString('utf8')) as Record<string, unknown>;
  if (typeof doc.entriesSeal !== 'string') throw new Error('bench: the state trustroll wrote is not sealed');
  delete doc.entriesSeal;
  await store.put(KEYS.state, new Uint8Array(Buffer.from(`${JSON.stringify(doc, null, 1)}\n`)), {
    ifMatch: current.etag,
  });
  const read = (command: string, at: string, args: string[] = []): ProcessCase => ({
    name: `${command} ${at}`,
    command: 'node',
    args: [BIN, command, '--data-dir', join(at, 'data'), ...args],
    // status exits 1: no local endpoint has run with this data folder.
    ok: [0, 1],
  });
  for (const [command, args] of [
    ['history', []],
    ['status', []],
    ['report', ['--output', join(dir, 'report.html')]],
  ] as const) {
    const [sealedRun, unsealedRun, floor] = alternate(
      [read(command, base, [...args]), read(command, unsealed, [...args]), help],
      7,
    );
    cpuAgainst(
      `process.read-1000.${command}.cpu (sealed vs. every certificate parsed)`,
      sealedRun!,
      unsealedRun!,
    );
    cpuAgainst(`process.read-1000.${command}.cpu-vs-help`, sealedRun!, floor!);
  }
  // ingest changes the store: each run ingests into a fresh copy (the copy, a few MB, is in both
  // cases, so that the ratio compares ingest with lint only).
  const fresh = (at: string) => `rm -rf ${join(dir, 'run')} && cp -r ${at} ${join(dir, 'run')}`;
  const run = join(dir, 'run');
  const [ingestRun, ingestUnsealed, lintRun] = alternate(
    [
      {
        name: 'ingest',
        command: 'sh',
        args: ['-c', `${fresh(base)} && node ${BIN} ingest --data-dir ${run}/data --inbox ${run}/inbox`],
      },
      {
        name: 'ingest unsealed',
        command: 'sh',
        args: ['-c', `${fresh(unsealed)} && node ${BIN} ingest --data-dir ${run}/data --inbox ${run}/inbox`],
      },
      {
        name: 'lint',
        command: 'sh',
        args: ['-c', `${fresh(base)} && node ${BIN} lint ${run}/inbox/up/ca.pem`],
      },
    ],
    5,
  );
  cpuAgainst('process.ingest.3-into-1000.cpu-vs-lint-of-the-upload', ingestRun!, lintRun!, '≤ 3 × judging');
  cpuAgainst('process.ingest.3-into-1000.cpu-vs-every-certificate-parsed', ingestRun!, ingestUnsealed!);
};

/** A process's CPU time against another's (wall time where GNU time is missing). */
const cpuAgainst = (name: string, run: ProcessFigures, floor: ProcessFigures, target?: string): void => {
  const cost = (f: ProcessFigures) => f.cpuMs ?? f.wallMs;
  report({
    name,
    value: cost(run),
    unit: 'ms',
    floor: cost(floor),
    ratio: cost(run) / cost(floor),
    ...(target ? { target } : {}),
  });
};
