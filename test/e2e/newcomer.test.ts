import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Issued, root } from '../fixtures/pki.js';
import { BIN, build } from './helpers.js';

/**
 * The CLI as a newcomer meets it (issue 16): a flag, a typo or a moment given on the command line
 * never yields a silent wrong answer. Each case runs the built CLI as a subprocess.
 */

let work: string;
const cas: Issued[] = [];

const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync('node', [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
};

/** A local store in `dir` whose revisions 1..n each add one CA (`cas[0]`, `cas[1]`, …). */
const storeWith = (dir: string, n: number) => {
  for (let i = 0; i < n; i++) {
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', `ca${i}.pem`), cas[i]!.pem);
    const r = cli(dir, 'ingest');
    expect(r.status, r.err).toBe(0);
  }
  return dir;
};

const fresh = (name: string) => {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

beforeAll(async () => {
  build();
  work = mkdtempSync(join(tmpdir(), 'trustroll-newcomer-'));
  for (const i of [0, 1, 2])
    cas.push(await root(`CN=Newcomer Root ${i},O=Acme`, { keySlot: `newcomer-${i}` }));
}, 180_000);

describe('promote --version (it was taken for the program version)', () => {
  it('promotes the version asked for and says so, instead of printing the program version', () => {
    const from = storeWith(fresh('promote-from'), 2);
    const to = fresh('promote-to');
    const target = join(to, '.trustroll');
    // The target holds a store of its own (CA 2), so the promotion has something to change.
    mkdirSync(join(to, 'inbox', 'beta'), { recursive: true });
    writeFileSync(join(to, 'inbox', 'beta', 'ca.pem'), cas[2]!.pem);
    expect(cli(to, 'ingest').status).toBe(0);

    const r = cli(
      work,
      'promote',
      '--from',
      join(from, '.trustroll'),
      '--to',
      target,
      '--version',
      '1',
      '--yes',
    );
    expect(r.out).not.toMatch(/^\d+\.\d+\.\d+\s*$/);
    expect(r.status, r.err).toBe(0);
    expect(r.err).toMatch(/version 000001 \(revision 1\)/);
    const history = cli(to, 'history', '--json');
    const [latest] = JSON.parse(history.out) as { reason: string; added: { subject: string }[] }[];
    expect(latest!.reason).toMatch(/promotion of .* version 000001/);
    expect(latest!.added.map((a) => a.subject)).toEqual(['CN=Newcomer Root 0,O=Acme']);
  });

  it('keeps trustroll --version', () => {
    const r = cli(work, '--version');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
