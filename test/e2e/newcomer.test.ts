import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DAY, type Issued, root } from '../fixtures/pki.js';
import { BIN, build, outbox } from './helpers.js';

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

describe('scan at another moment is a preview (it used to alert and record, silencing the real alerts)', () => {
  it('--at, --dry-run and --json send and record nothing; the real scan then sends the 60-day alert', async () => {
    const dir = fresh('scan');
    const soon = await root('CN=Soon Root,O=Soon', {
      keySlot: 'newcomer-soon',
      now: new Date(),
      notAfter: new Date(Date.now() + 50 * DAY),
    });
    mkdirSync(join(dir, 'inbox', 'soon'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'soon', 'ca.pem'), soon.pem);
    expect(cli(dir, 'ingest').status).toBe(0);
    const data = join(dir, '.trustroll');
    const states = () => readdirSync(join(data, 'store', 'state', 'truststore.json.v')).sort();
    const before = { states: states(), outbox: outbox(data).length };

    const future = cli(dir, 'scan', '--at', new Date(Date.now() + 40 * DAY).toISOString());
    expect(future.status, future.err).toBe(0);
    expect(future.out).toMatch(
      /Preview: a scan at this moment would send 1 alert \(nothing was sent or recorded\)/,
    );
    expect(future.out).toMatch(/CA expires in (9|10) days: CN=Soon Root,O=Soon/);
    const dry = cli(dir, 'scan', '--dry-run');
    expect(dry.status, dry.err).toBe(0);
    expect(dry.out).toMatch(/would send 1 alert[\s\S]*CA expires in (49|50) days: CN=Soon Root/);
    const json = cli(dir, 'scan', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      preview: true,
      wouldAlert: [expect.stringMatching(/in (49|50) days/)],
    });
    expect({ states: states(), outbox: outbox(data).length }).toEqual(before);

    const real = cli(dir, 'scan');
    expect(real.status, real.err).toBe(0);
    expect(real.out).not.toMatch(/Preview/);
    const sent = outbox(data).slice(before.outbox);
    expect(sent.map((n) => [n.eventType, n.severity])).toEqual([['ca.expiring', 'info']]);
    expect(sent[0]!.subject).toMatch(/in (49|50) days: CN=Soon Root/);
  });
});
