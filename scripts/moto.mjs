// The AWS emulator for tests: moto in server mode, from a project-local Python venv, with
// cfn-lint beside it (.ci/run lints the synthesized templates with it), pinned in
// scripts/requirements-test.txt.
// `node scripts/moto.mjs install` creates or updates the venv when the pins changed (.ci/run calls it);
// startMoto() is used by the vitest global setup to run it on a free 127.0.0.1 port.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const requirements = join(here, 'requirements-test.txt');
// TRUSTROLL_VENV: another venv (a shared cache in CI, a scratch one to try new pins).
const venv = resolve(process.env.TRUSTROLL_VENV ?? '.venv');
const server = join(venv, 'bin', 'moto_server');
const cfnLint = join(venv, 'bin', 'cfn-lint');
/** Written after a complete install: the hash of the requirements it installed. */
const stamp = join(venv, '.trustroll-requirements.sha256');

export const ensureMoto = () => {
  const wanted = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (have === wanted && existsSync(server) && existsSync(cfnLint)) return server;
  const python = process.env.PYTHON ?? 'python3';
  const count = readFileSync(requirements, 'utf8')
    .split('\n')
    .filter((l) => /^[A-Za-z]/.test(l)).length;
  process.stderr.write(
    `installing the AWS emulator (moto) and cfn-lint into ${venv}: ${count} pinned Python packages from ${requirements}` +
      `${have ? ' (the pins changed)' : ' (once)'}…\n`,
  );
  if (!existsSync(join(venv, 'bin', 'pip'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  // pip's own lines (Collecting …, Installing …) show the progress.
  execFileSync(
    join(venv, 'bin', 'pip'),
    ['install', '--disable-pip-version-check', '--progress-bar', 'off', '-r', requirements],
    { stdio: ['ignore', process.stderr, 'inherit'] },
  );
  writeFileSync(stamp, `${wanted}\n`);
  return server;
};

const freePort = () =>
  new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });

/** Starts moto on a free port; resolves to { endpoint, stop }. */
export const startMoto = async () => {
  ensureMoto();
  const port = await freePort();
  // moto_serial.py: moto_server's app, one request at a time (atomic conditional writes, as on S3).
  const serial = join(here, 'moto_serial.py');
  const child = spawn(join(venv, 'bin', 'python'), [serial, '127.0.0.1', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited early:\n${log}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`moto did not start on ${endpoint}:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
};

if (process.argv[2] === 'install') {
  ensureMoto();
  console.log(`moto ready: ${server}`);
}
