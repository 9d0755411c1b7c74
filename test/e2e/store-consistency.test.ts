import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Issued, partnerChain, pemOf } from '../../shared/pki/builder.js';
import { BIN, build, startUp } from './helpers.js';

/**
 * What the store says matches what it holds (issue 16): a missing latest version is damage, a
 * committed revision that was not published is never hidden behind the one before it.
 */
const T = (cwd: string, ...args: string[]) =>
  spawnSync('node', [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  build();
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
});

const VERSIONS = join('.trustroll', 'store', 'truststore', 'truststore.pem.v');

/** A folder with a store holding the given partners (one ingest: revision 1, version 000001). */
const storeWith = (partners: Record<string, Issued[]>) => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-consistency-'));
  for (const [name, certs] of Object.entries(partners)) {
    mkdirSync(join(dir, 'inbox', name), { recursive: true });
    writeFileSync(join(dir, 'inbox', name, 'ca.pem'), pemOf(...certs));
  }
  const r = T(dir, 'ingest');
  expect(r.status, r.stderr).toBe(0);
  return dir;
};

const noTrace = (r: ReturnType<typeof T>) => expect(r.stderr).not.toMatch(/\n\s+at /);

describe('a missing latest truststore version', () => {
  it('is damage (exit 4) for export, diff, diagnose and promote, not an expired older version', () => {
    const dir = storeWith({ acme: [acme.root, acme.intermediate] });
    rmSync(join(dir, VERSIONS, '000001'));
    writeFileSync(join(dir, 'client.pem'), acme.client.pem);
    for (const args of [
      ['export'],
      ['diff', '1', '1'],
      ['diagnose', '--cert', 'client.pem'],
      ['promote', '--from', '.trustroll', '--to', 'other', '--create', '--yes'],
    ]) {
      const r = T(dir, ...args);
      noTrace(r);
      expect(r.stderr, args.join(' ')).not.toMatch(/retention/);
      expect(r.stderr, args.join(' ')).toMatch(/damaged.*000001.*missing.*trustroll repair/s);
      expect(r.status, args.join(' ')).toBe(4);
    }
  }, 180_000);
});

describe('a revision committed but not published', () => {
  /** Two partners; then a removal of beta whose publish fails (a folder where a file goes). */
  const failedPublish = () => {
    const dir = storeWith({ acme: [acme.root, acme.intermediate], beta: [beta.root, beta.intermediate] });
    const highest = join(dir, VERSIONS, '.highest');
    rmSync(highest);
    mkdirSync(highest);
    const r = T(dir, 'remove', '--partner', 'beta', '--reason', 'test');
    rmSync(highest, { recursive: true });
    return { dir, r };
  };
  const betaIn = (pem: string) => pem.includes(beta.root.pem.trim().split('\n')[1]!);

  it('fails the command as a dependency failure (exit 5), saying the revision is committed', () => {
    const { r } = failedPublish();
    noTrace(r);
    expect(r.stderr).toMatch(/revision 2 is committed/);
    expect(r.status).toBe(5);
  }, 180_000);

  it('is reported by status, refused by export, and published by repair', () => {
    const { dir } = failedPublish();
    expect(T(dir, 'history').stdout).toMatch(/revision 2 {2}version \(unpublished\)/);

    const status = T(dir, 'status');
    expect(status.stdout).toMatch(/revision 2.*committed.*not.*published|NOT PUBLISHED: revision 2/is);
    expect(status.status).toBe(1);

    // Never the older revision, which still trusts beta, as if it were the latest.
    const exported = T(dir, 'export');
    noTrace(exported);
    expect(exported.stdout).not.toMatch(/BEGIN CERTIFICATE/);
    expect(exported.stderr).toMatch(/revision 2.*not published/);
    expect(exported.status).toBe(4);

    const repair = T(dir, 'repair');
    expect(repair.stdout).not.toMatch(/intact/);
    expect(repair.stdout).toMatch(/revision 2 was committed but never published/);
    expect(repair.status).toBe(0);

    const after = T(dir, 'export');
    expect(after.status).toBe(0);
    expect(after.stderr + after.stdout).toMatch(/BEGIN CERTIFICATE/);
    expect(betaIn(after.stdout)).toBe(false);
    expect(T(dir, 'status').stdout).not.toMatch(/NOT PUBLISHED/);
    expect(T(dir, 'history').stdout).toMatch(/revision 2 {2}version 000002/);
  }, 180_000);

  it('is published by the next command that writes, even one that changes nothing', () => {
    const { dir } = failedPublish();
    // The same request again: nothing left to remove, but the pending revision goes out.
    const again = T(dir, 'remove', '--partner', 'beta', '--reason', 'test');
    expect(again.status).toBe(1);
    expect(T(dir, 'history').stdout).toMatch(/revision 2 {2}version 000002/);
    const exported = T(dir, 'export');
    expect(exported.status).toBe(0);
    expect(betaIn(exported.stdout)).toBe(false);
  }, 180_000);

  it('is published by trustroll up when it starts, which then serves it', async () => {
    const { dir } = failedPublish();
    const up = await startUp(dir);
    try {
      expect(up.output()).toMatch(/truststore version 000002/);
    } finally {
      await up.stop();
    }
    expect(T(dir, 'history').stdout).toMatch(/revision 2 {2}version 000002/);
  }, 180_000);

  it('is not promoted as an older version: promote without --version refuses until it is published', () => {
    const { dir } = failedPublish();
    const r = T(dir, 'promote', '--from', '.trustroll', '--to', 'prod', '--create', '--yes');
    noTrace(r);
    expect(r.stderr).toMatch(/revision 2.*not published/);
    expect(r.status).toBe(4);
    expect(T(dir, 'history', '--store', 'prod').status).toBe(2);
  }, 180_000);
});
