import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES } from '../../../cli/io.js';
import { run } from '../../../cli/main.js';
import { days, intermediate, NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

const runCli = async (args: string[], stdin: Uint8Array = new Uint8Array()) => {
  let out = '';
  let err = '';
  const code = await run(args, { out: (t) => (out += t), err: (t) => (err += t), stdin: async () => stdin });
  return { code, out, err };
};

let dir: string;
let chain: Awaited<ReturnType<typeof partnerChain>>;
const at = NOW.toISOString();
beforeAll(async () => {
  chain = await partnerChain('Cli');
  dir = mkdtempSync(join(tmpdir(), 'trustroll-cli-'));
  writeFileSync(join(dir, 'good.pem'), pemOf(chain.root, chain.intermediate));
  writeFileSync(join(dir, 'intermediate-only.pem'), chain.intermediate.pem);
  writeFileSync(join(dir, 'leaf.pem'), chain.client.pem);
  const soon = await intermediate('CN=Soon CA', chain.root, { notAfter: days(10) });
  writeFileSync(join(dir, 'soon.pem'), pemOf(chain.root, soon));
  mkdirSync(join(dir, 'folder', 'nested'), { recursive: true });
  writeFileSync(join(dir, 'folder', 'root.der'), chain.root.der);
  writeFileSync(join(dir, 'folder', 'nested', 'int.pem'), chain.intermediate.pem);
});

describe('trustroll lint', () => {
  it('exits 0 and says OK for a complete chain', async () => {
    const r = await runCli(['lint', '--at', at, join(dir, 'good.pem')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^2 certificates without findings:\n {2}CN=Cli Root CA,O=Cli .* in .*good\.pem, block 1 \(line 1\)\n {2}CN=Cli Issuing CA,O=Cli .* in .*good\.pem, block 2 \(line \d+\)\nOK: 2 certificates from 1 input; 0 errors, 0 warnings, 0 info\.\n$/,
    );
  });

  it('exits 1 and groups findings by certificate, errors first', async () => {
    const r = await runCli(['lint', '--at', at, join(dir, 'soon.pem'), join(dir, 'leaf.pem')]);
    expect(r.code).toBe(1);
    const leafAt = r.out.indexOf('CN=client.cli.example');
    const soonAt = r.out.indexOf('CN=Soon CA');
    expect(leafAt).toBeGreaterThanOrEqual(0);
    expect(soonAt).toBeGreaterThan(leafAt);
    expect(r.out).toMatch(/ {2}error {4}cert\.not-ca/);
    expect(r.out).toMatch(/ {2}warning {2}cert\.expiring/);
    expect(r.out).toMatch(/FAILED: 3 certificates from 2 inputs; \d+ errors, 1 warning, 0 info/);
  });

  it('prints the documented JSON shape with --json', async () => {
    const r = await runCli(['lint', '--json', '--at', at, join(dir, 'intermediate-only.pem')]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out);
    expect(Object.keys(json)).toEqual(['ok', 'certificates', 'findings']);
    expect(json.ok).toBe(false);
    expect(json.certificates).toEqual([
      {
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        subject: 'CN=Cli Issuing CA,O=Cli',
        issuer: 'CN=Cli Root CA,O=Cli',
        notAfter: expect.stringMatching(/Z$/),
        ca: true,
        sources: [`${join(dir, 'intermediate-only.pem')}, block 1 (line 1)`],
      },
    ]);
    expect(json.findings).toEqual([
      {
        code: 'chain.issuer-missing',
        severity: 'error',
        message: expect.any(String),
        fingerprint: json.certificates[0].fingerprint,
        sources: json.certificates[0].sources,
      },
    ]);
  });

  it('reads folders recursively and standard input', async () => {
    expect((await runCli(['lint', '--at', at, join(dir, 'folder')])).code).toBe(0);
    const r = await runCli(['lint', '--json', '--at', at, '-'], toBytes(pemOf(chain.root)));
    expect(JSON.parse(r.out).certificates).toHaveLength(1);
  });

  it('honours --expiring-days', async () => {
    const r = await runCli(['lint', '--json', '--at', at, '--expiring-days', '5', join(dir, 'soon.pem')]);
    expect(JSON.parse(r.out).findings).toEqual([]);
  });

  it('exits 2 with a clear message for a missing path, a bad date or a bad number', async () => {
    expect(await runCli(['lint', join(dir, 'nope.pem')])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/cannot read .*nope\.pem: no such file/),
    });
    expect(await runCli(['lint', '--at', 'yesterday', join(dir, 'good.pem')])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--at wants an ISO 8601/),
    });
    expect(await runCli(['lint', '--expiring-days', '-3', join(dir, 'good.pem')])).toMatchObject({ code: 2 });
    expect(await runCli(['lint'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/missing required argument/),
    });
    expect(await runCli(['frobnicate'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/unknown command/),
    });
  });

  it('refuses an input larger than it reads (a device without end, a huge stdin) with exit 2, not reading it all', async () => {
    const zero = await runCli(['lint', '/dev/zero']);
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/\/dev\/zero is larger than the 33554432 bytes trustroll reads from one input/);
    const huge = await runCli(['lint', '-'], new Uint8Array(MAX_INPUT_BYTES + 1));
    expect(huge.code).toBe(2);
    expect(huge.err).toMatch(/standard input is larger than/);
    // At the limit it is read (and judged: zeros are no certificate).
    expect((await runCli(['lint', '-'], new Uint8Array(1024))).code).toBe(1);
  }, 60_000);

  it('answers --help for the program and every command with exit 0', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    const commands = [...top.out.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toContain('lint');
    for (const command of commands) {
      const r = await runCli([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.out, command).toMatch(new RegExp(`^Usage: trustroll ${command}`));
    }
  });
});

describe('the installed trustroll binary', () => {
  it('runs from the project root through npx after the build', () => {
    execFileSync('node', ['scripts/build.mjs']);
    const help = spawnSync('npx', ['--no-install', 'trustroll', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: trustroll');
    const lint = spawnSync(
      'node',
      ['bin/trustroll.mjs', 'lint', '--at', at, join(dir, 'intermediate-only.pem')],
      { encoding: 'utf8' },
    );
    expect(lint.status).toBe(1);
    expect(lint.stdout).toContain('chain.issuer-missing');
  });
});
