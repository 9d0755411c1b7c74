import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Issued, partnerChain, pemOf } from '../../shared/pki/builder.js';
import { BIN, build } from './helpers.js';

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
