import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { partnerChain, pemOf } from '../../shared/pki/builder.js';
import { BIN, build } from './helpers.js';

/**
 * Paths a store cannot be made in (issue 16): each is refused with one sentence naming it
 * (exit 2), never a stack trace, never "run it again", never a loop that spins for ever.
 */
const T = (cwd: string, ...args: string[]) =>
  spawnSync('node', [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });

let bundle: string;
beforeAll(async () => {
  build();
  const acme = await partnerChain('Acme');
  bundle = pemOf(acme.root, acme.intermediate);
});

/** A folder with a store (one ingested partner) and an upload waiting in the inbox. */
const workspace = () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-paths-'));
  mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), bundle);
  expect(T(dir, 'ingest').status).toBe(0);
  writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), bundle);
  return dir;
};

const refused = (r: ReturnType<typeof T>, path: RegExp) => {
  expect(r.error, 'the command ended').toBeUndefined();
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(path);
  expect(r.status, r.stderr).toBe(2);
};

describe('a folder that cannot be made', () => {
  it.runIf(existsSync('/proc/self'))(
    'refuses a folder in a file system that holds none (/proc) instead of retrying for ever',
    () => {
      const dir = workspace();
      refused(
        T(dir, 'pki', 'init', '/proc/trustroll-none'),
        /cannot create the folder \/proc\/trustroll-none/,
      );
      refused(
        T(dir, 'ingest', '--data-dir', '/proc/trustroll-none'),
        /cannot create the folder \/proc\/trustroll-none/,
      );
    },
    120_000,
  );

  it('refuses a data folder behind a link to nothing, naming the link, before promote shows its diff', () => {
    const dir = workspace();
    symlinkSync('/nonexistent/trustroll', join(dir, 'dang'));
    for (const args of [
      ['ingest', '--data-dir', 'dang/sub'],
      ['up', '--data-dir', 'dang/sub', '--port', '0'],
      ['promote', '--from', '.trustroll', '--to', 'dang/sub', '--create', '--yes'],
    ]) {
      const r = T(dir, ...args);
      refused(r, /dang is a symbolic link to something that does not exist/);
      expect(r.stderr, args.join(' ')).not.toMatch(/Promote/);
    }
  }, 120_000);

  it('refuses a data folder below a file as a usage error, not a failure to retry', () => {
    const dir = workspace();
    writeFileSync(join(dir, 'afile'), 'x');
    refused(T(dir, 'ingest', '--data-dir', 'afile/sub'), /afile is not a folder/);
    refused(T(dir, 'promote', '--from', '.trustroll', '--to', 'afile', '--create', '--yes'), /afile/);
    refused(
      T(dir, 'promote', '--from', '.trustroll', '--to', 'afile/sub', '--create', '--yes'),
      /afile(, which)? is (a file, )?not a folder/,
    );
    expect(
      T(dir, 'promote', '--from', '.trustroll', '--to', 'afile/sub', '--create', '--yes').stderr,
    ).not.toMatch(/run the command again/);
  }, 120_000);
});

describe('export -o', () => {
  it('refuses to write inside the data folder it exports from, by any name, and leaves the store intact', () => {
    const dir = workspace();
    const version = join('.trustroll', 'store', 'truststore', 'truststore.pem.v', '000001');
    const before = readFileSync(join(dir, version));
    symlinkSync(join(dir, '.trustroll', 'store', 'x.pem'), join(dir, 'link-into-store'));
    for (const out of [version, './.trustroll/../.trustroll/store/new.pem', 'link-into-store']) {
      const r = T(dir, 'export', '-o', out);
      refused(r, /inside the data folder/);
    }
    expect(readFileSync(join(dir, version)).equals(before)).toBe(true);
    expect(existsSync(join(dir, '.trustroll', 'store', 'x.pem'))).toBe(false);
    expect(T(dir, 'status').stdout).not.toMatch(/DAMAGED/);
    // Outside the store it writes as before.
    expect(T(dir, 'export', '-o', 'out.pem').status).toBe(0);
    expect(readFileSync(join(dir, 'out.pem')).equals(before)).toBe(true);
  }, 120_000);

  it('takes an empty -o as a usage error, not as standard output', () => {
    const dir = workspace();
    const r = T(dir, 'export', '-o', '');
    refused(r, /-o names no file/);
    expect(r.stdout).not.toMatch(/BEGIN CERTIFICATE/);
  }, 120_000);
});
