// The AWS emulator for tests: moto in server mode, from a project-local Python venv, with
// cfn-lint beside it (.ci/run lints the synthesized templates with it).
// `node scripts/moto.mjs install` creates the venv if missing (.ci/run calls it);
// startMoto() is used by the vitest global setup to run it on a free 127.0.0.1 port.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MOTO_VERSION = '5.2.5';
export const CFN_LINT_VERSION = '1.58.0';
const venv = resolve('.venv');
const server = join(venv, 'bin', 'moto_server');
const cfnLint = join(venv, 'bin', 'cfn-lint');

export const ensureMoto = () => {
  if (existsSync(server) && existsSync(cfnLint)) return server;
  const python = process.env.PYTHON ?? 'python3';
  process.stderr.write(`installing moto[server]==${MOTO_VERSION} into ${venv} (once)…\n`);
  if (!existsSync(join(venv, 'bin', 'pip'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(
    join(venv, 'bin', 'pip'),
    [
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `moto[server]==${MOTO_VERSION}`,
      `cfn-lint==${CFN_LINT_VERSION}`,
    ],
    {
      stdio: 'inherit',
    },
  );
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
  const serial = join(dirname(fileURLToPath(import.meta.url)), 'moto_serial.py');
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
