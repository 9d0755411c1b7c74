import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../fixtures/cli.js';
import { partnerChain, pemOf } from '../../fixtures/pki.js';

let dir: string;
let local: string[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'report-cli-'));
  local = ['--data-dir', join(dir, '.trustroll')];
  const chain = await partnerChain('Report', { key: 'p256' });
  mkdirSync(join(dir, 'inbox', 'report'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'report', 'ca.pem'), pemOf(chain.root, chain.intermediate));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trustroll report', () => {
  it('refuses a path that holds no store (exit 2), never an empty report', async () => {
    const none = await runCli(['report', ...local]);
    expect(none.code).toBe(2);
    expect(none.out).toBe('');
    expect(none.err).toMatch(/holds no trustroll store/);
  });

  it('prints the page by default, and writes JSON or CSV with -o; the local store keeps the published one', async () => {
    expect((await runCli(['ingest', ...local, '--inbox', join(dir, 'inbox')])).code).toBe(0);
    const page = await runCli(['report', ...local]);
    expect(page.code).toBe(0);
    expect(page.out).toMatch(/^<!doctype html>/);
    expect(page.out.match(/class="ca-mark /g)).toHaveLength(2);

    const out = join(dir, 'report.json');
    const json = await runCli(['report', ...local, '--format', 'json', '-o', out, '--at', '2027-01-01']);
    expect(json.code).toBe(0);
    expect(json.err).toMatch(/wrote the json report of .* to /);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ schema: 'trustroll.report/1', generatedAt: '2027-01-01T00:00:00.000Z' });
    expect(report.partners.map((p: { name: string }) => p.name)).toEqual(['report']);

    const csv = await runCli(['report', ...local, '--format', 'csv', '-o', '-']);
    expect(csv.out.split('\r\n').filter((l) => l.startsWith('report,'))).toHaveLength(2);
    // What the pipeline published with the version: the same rows.
    const published = readFileSync(join(dir, '.trustroll', 'reports', 'truststore.csv'), 'utf8');
    expect(published.split('\r\n').map((l) => l.split(',')[0])).toEqual(
      csv.out.split('\r\n').map((l) => l.split(',')[0]),
    );
  });

  it('says a damaged state is damaged (exit 4), not an empty report', async () => {
    const versions = join(dir, '.trustroll', 'store', 'state', 'truststore.json.v');
    const latest = readdirSync(versions)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    writeFileSync(join(versions, latest), '{"schema": 1, "revision": "3"}');
    const damaged = await runCli(['report', ...local]);
    expect(damaged.code).toBe(4);
    expect(damaged.out).toBe('');
    expect(damaged.err).toMatch(/the store is damaged/);
    expect(existsSync(join(dir, 'report.json'))).toBe(true);
  });
});
