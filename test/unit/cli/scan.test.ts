import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/main.js';
import { days, intermediate, pemOf, root } from '../../fixtures/pki.js';

const runCli = async (args: string[], cwd: string) => {
  let out = '';
  let err = '';
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    const code = await run(args, {
      out: (t) => (out += t),
      err: (t) => (err += t),
      stdin: async () => new Uint8Array(),
    });
    return { code, out, err };
  } finally {
    process.chdir(previous);
  }
};

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-scan-'));
  const r = await root('CN=Scan Root,O=Scan', { notAfter: days(400), now: new Date() });
  const i = await intermediate('CN=Scan Issuing,O=Scan', r, {
    notAfter: new Date(Date.now() + 20 * 86_400_000),
    now: new Date(),
  });
  writeFileSync(join(dir, 'truststore.pem'), pemOf(r, i));
  mkdirSync(join(dir, 'inbox', 'scan'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'scan', 'ca.pem'), pemOf(r, i));
});

describe('trustroll scan', () => {
  it('reports a truststore file, soonest expiry first, and exits 1 once a CA has expired', async () => {
    const now = await runCli(['scan', 'truststore.pem'], dir);
    expect(now.code).toBe(0);
    expect(now.out.split('\n')[1]).toMatch(/^\s+19 .*CN=Scan Issuing,O=Scan$/);
    const later = await runCli(
      ['scan', '--at', new Date(Date.now() + 30 * 86_400_000).toISOString(), 'truststore.pem'],
      dir,
    );
    expect(later.code).toBe(1);
    expect(later.out).toMatch(/EXPIRED .*CN=Scan Issuing,O=Scan/);
  });

  it('scans the local state and sends each threshold alert once; --json previews without sending', async () => {
    expect((await runCli(['ingest'], dir)).code).toBe(0);
    const preview = JSON.parse((await runCli(['scan', '--json'], dir)).out);
    expect(preview.preview).toBe(true);
    expect(preview.wouldAlert).toEqual(['[trustroll] CA expires in 19 days: CN=Scan Issuing,O=Scan (scan)']);
    expect(preview.entries[0]).toMatchObject({
      subject: 'CN=Scan Issuing,O=Scan',
      partner: 'scan',
      days: 19,
    });
    const first = await runCli(['scan'], dir);
    expect(first.err).toMatch(/CA expires in 19 days: CN=Scan Issuing,O=Scan \(scan\)/);
    const again = await runCli(['scan'], dir);
    expect(again.err).not.toMatch(/CA expires/);
    expect(JSON.parse((await runCli(['scan', '--json'], dir)).out).wouldAlert).toEqual([]);
    const tenDaysOn = JSON.parse(
      (await runCli(['scan', '--json', '--at', new Date(Date.now() + 10 * 86_400_000).toISOString()], dir))
        .out,
    );
    expect(tenDaysOn.wouldAlert).toEqual(['[trustroll] CA expires in 9 days: CN=Scan Issuing,O=Scan (scan)']);
  });

  it('refuses a state whose expiry was edited by hand: damaged store, exit 4, with repair advice', async () => {
    const edited = mkdtempSync(join(tmpdir(), 'trustroll-scan-edited-'));
    const r = await root('CN=Edited Root,O=Scan', { notAfter: days(400), now: new Date() });
    mkdirSync(join(edited, 'inbox', 'scan'), { recursive: true });
    writeFileSync(join(edited, 'inbox', 'scan', 'ca.pem'), r.pem);
    expect((await runCli(['ingest'], edited)).code).toBe(0);
    const versions = join(edited, '.trustroll', 'store', 'state', 'truststore.json.v');
    const latest = readdirSync(versions)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    const state = JSON.parse(readFileSync(join(versions, latest), 'utf8'));
    state.entries[0].notAfter = '2099-12-31T00:00:00.000Z';
    writeFileSync(join(versions, latest), JSON.stringify(state));
    const scan = await runCli(['scan', '--json'], edited);
    expect(scan.code).toBe(4);
    expect(scan.err).toMatch(
      /entries\[0\]\.notAfter: "2099-12-31T00:00:00\.000Z" is not what the entry's certificate says/,
    );
    expect(scan.err).toMatch(/trustroll repair/);
    // Under --json the refusal is JSON too, and no scan result built on the forged date.
    expect(JSON.parse(scan.out)).toMatchObject({ status: 4 });
    expect(JSON.parse(scan.out)).not.toHaveProperty('entries');
  });

  it('refuses malformed thresholds with exit 2', async () => {
    expect((await runCli(['scan', '--thresholds', '30,soon'], dir)).code).toBe(2);
  });
});
