import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/main.js';
import { partnerChain, pemOf } from '../../fixtures/pki.js';

const runCli = async (args: string[]) => {
  let out = '';
  let err = '';
  const code = await Promise.race([
    run(args, { out: (t) => (out += t), err: (t) => (err += t), stdin: async () => new Uint8Array() }),
    new Promise<number>((done) => setTimeout(() => done(-1), 30_000).unref()),
  ]);
  return { code, out, err };
};

let dir: string;
let data: string;
const versions = () => readdirSync(join(data, 'store', 'truststore', 'truststore.pem.v')).sort();
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-folders-'));
  data = join(dir, '.trustroll');
  const chain = await partnerChain('Folders');
  mkdirSync(join(dir, 'inbox', 'folders'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'folders', 'ca.pem'), pemOf(chain.root, chain.intermediate));
  expect((await runCli(['ingest', '--data-dir', data, '--inbox', join(dir, 'inbox')])).code).toBe(0);
  symlinkSync(data, join(dir, 'linked-data'));
});

describe('an inbox and a data folder that overlap', () => {
  const overlaps = () => [
    { name: 'the same folder', inbox: data, dataDir: data },
    { name: 'the inbox inside the data folder', inbox: join(data, 'store'), dataDir: data },
    { name: 'the data folder inside the inbox', inbox: dir, dataDir: data },
    { name: 'the same folder through a link', inbox: join(dir, 'linked-data'), dataDir: data },
  ];
  const commands: string[][] = [
    ['ingest'],
    ['scan'],
    ['up', '--port', '0'],
    // history and diff read no inbox: they do not take --inbox at all.
    ['status'],
    ['rollback'],
    ['remove', '--partner', 'folders', '--reason', 'test', '--requested-by', 'test'],
  ];

  it('is refused by every command that takes both, with exit 2 and one sentence, and nothing is touched', async () => {
    const before = versions();
    for (const o of overlaps()) {
      for (const command of commands) {
        const result = await runCli([...command, '--inbox', o.inbox, '--data-dir', o.dataDir]);
        expect({ o: o.name, command, code: result.code }).toEqual({ o: o.name, command, code: 2 });
        expect(result.err).toMatch(/(are the same folder|is inside the) .*use separate folders/);
        expect(result.err).not.toMatch(/at .*\.[jt]s:\d+/);
      }
    }
    expect(versions()).toEqual(before);
    expect(readdirSync(join(data, 'store'))).toEqual(expect.arrayContaining(['state', 'truststore']));
  }, 120_000);
});

describe('up --retry-refused', () => {
  it('is refused without --targets (a single endpoint forgets what it refused when it stops), with exit 2, nothing started', async () => {
    const result = await runCli([
      'up',
      '--retry-refused',
      '--port',
      '0',
      '--data-dir',
      data,
      '--inbox',
      join(dir, 'inbox'),
    ]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--retry-refused applies to --targets');
    expect(result.err).not.toMatch(/at .*\.[jt]s:\d+/);
  });

  it('refuses an empty --targets (it ran one endpoint, forgetting the targets) and --domain beside --targets (ignored)', async () => {
    const where = ['--port', '0', '--data-dir', data, '--inbox', join(dir, 'inbox')];
    const empty = await runCli(['up', '--targets', '', ...where]);
    expect([empty.code, empty.err]).toEqual([
      2,
      expect.stringContaining('--targets needs the path of a targets file'),
    ]);
    const both = await runCli(['up', '--targets', 'targets.json', '--domain', 'api.example.com', ...where]);
    expect([both.code, both.err]).toEqual([
      2,
      expect.stringContaining('with --targets each target plays its own "resource"'),
    ]);
  });
});
