import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { pemOf, root } from '../fixtures/pki.js';
import { BIN, build } from './helpers.js';

/**
 * Each command loads only what it uses (issue 18): what `--help` and `lint` load, as processes,
 * recorded by a preloaded hook (test/fixtures/loaded-modules.mjs). The AWS SDK and
 * `@peculiar/x509` are bundled into chunks of their own; a command that needs neither must not
 * load them, and `--help` loads neither `node:crypto` nor `node:child_process`.
 */
const HOOK = resolve('test/fixtures/loaded-modules.mjs');
/** Text only the bundled AWS S3 client and @peculiar/x509's certificate builder hold. */
const AWS_SDK = 'S3Client';
const X509_BUILDER = 'X509CertificateGenerator';

let dir: string;
beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-loads-'));
  writeFileSync(join(dir, 'one.pem'), pemOf(await root('CN=Loads One Root')));
}, 120_000);

const loaded = (args: string[]) => {
  const log = join(dir, `loaded-${args[0]}-${Date.now()}.log`);
  const r = spawnSync('node', ['--import', HOOK, BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TRUSTROLL_LOADED_LOG: log },
  });
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const files = lines.filter((l) => l.startsWith('file:')).map((l) => fileURLToPath(l));
  return {
    status: r.status,
    files,
    bytes: files.reduce((sum, f) => sum + statSync(f).size, 0),
    builtins: new Set(lines.filter((l) => l.startsWith('builtin:')).map((l) => l.slice(8))),
    holds: (text: string) => files.some((f) => readFileSync(f, 'utf8').includes(text)),
  };
};

describe('what a command loads', () => {
  it('--help: the entry and a few small chunks; no AWS SDK, no x509 builder, no crypto, no child_process', () => {
    const help = loaded(['--help']);
    expect(help.status).toBe(0);
    expect(help.files).toContain(resolve('dist/trustroll.mjs'));
    expect(help.holds(AWS_SDK)).toBe(false);
    expect(help.holds(X509_BUILDER)).toBe(false);
    expect(help.builtins.has('crypto')).toBe(false);
    expect(help.builtins.has('child_process')).toBe(false);
    // The whole CLI with its chunks is about 9 MB.
    expect(help.bytes).toBeLessThan(400_000);
  });

  it('lint: what reading and judging need, and crypto; no AWS SDK, no x509 builder', () => {
    const lint = loaded(['lint', 'one.pem']);
    expect(lint.status).toBe(0);
    expect(lint.builtins.has('crypto')).toBe(true);
    expect(lint.holds(AWS_SDK)).toBe(false);
    expect(lint.holds(X509_BUILDER)).toBe(false);
    expect(lint.builtins.has('child_process')).toBe(false);
    expect(lint.bytes).toBeLessThan(1_000_000);
  });

  it('a command that builds certificates loads the x509 builder (the check sees a chunk when it is loaded)', () => {
    const pki = loaded(['pki', 'init', '--name', 'Loads', join(dir, 'pki')]);
    expect(pki.status).toBe(0);
    expect(pki.holds(X509_BUILDER)).toBe(true);
    expect(pki.holds(AWS_SDK)).toBe(false);
  });
});
