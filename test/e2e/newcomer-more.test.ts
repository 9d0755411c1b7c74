import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Issued, leaf, root } from '../fixtures/pki.js';
import { BIN, build, startUp, waitFor } from './helpers.js';

/**
 * More of what a newcomer met trying the CLI from the README (issue 16): flags that were ignored,
 * history that was rewritten, dates that were shifted, raw system errors. Each case runs the built
 * CLI as a subprocess.
 */

let work: string;
const cas: Issued[] = [];

const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync('node', [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
};
/** Exit 2 with one sentence, no stack trace. */
const refused = (r: ReturnType<typeof cli>, message: RegExp) => {
  expect(r.status, r.err + r.out).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/unexpected failure|Error:|at .*\.m?js:\d+/);
};

const fresh = (name: string) => {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Drops `pem` into `inbox/<partner>/<file>` of `dir` and ingests it. */
const upload = (dir: string, partner: string, file: string, pem: string) => {
  mkdirSync(join(dir, 'inbox', partner), { recursive: true });
  writeFileSync(join(dir, 'inbox', partner, file), pem);
  const r = cli(dir, 'ingest');
  expect(r.status, r.err).toBe(0);
};

beforeAll(async () => {
  build();
  work = mkdtempSync(join(tmpdir(), 'trustroll-newcomer-more-'));
  for (const i of [0, 1, 2])
    cas.push(await root(`CN=Newcomer More Root ${i},O=Acme`, { keySlot: `newcomer-more-${i}` }));
}, 180_000);

describe('remove --request with other flags beside it', () => {
  it('refuses instead of ignoring the flags, and removes nothing', () => {
    const dir = fresh('remove-request-flags');
    upload(dir, 'beta', 'ca.pem', cas[0]!.pem);
    upload(dir, 'gamma', 'ca.pem', cas[1]!.pem);
    writeFileSync(
      join(dir, 'f.json'),
      JSON.stringify({ partner: 'gamma', reason: 'offboarded', requestedBy: 'ops' }),
    );
    for (const extra of [
      ['--partner', 'beta'],
      ['--reason', 'why'],
      ['--requested-by', 'me'],
      ['--fingerprint', 'ab'.repeat(32)],
      ['--subject', 'CN=x'],
    ]) {
      const r = cli(dir, 'remove', '--request', 'f.json', ...extra);
      refused(r, new RegExp(`--request f\\.json .*${extra[0]} cannot be given with it`));
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const history = JSON.parse(cli(dir, 'history', '--json').out) as unknown[];
    expect(history).toHaveLength(2);
    // The request file alone still works.
    expect(cli(dir, 'remove', '--request', 'f.json').status).toBe(0);
  }, 240_000);
});

describe('history and diff around a CA offered to another partner', () => {
  it("show each revision with the partner it had then; the CA is not another partner's while retired", () => {
    const dir = fresh('partner-history');
    upload(dir, 'p0', 'keep.pem', cas[0]!.pem);
    upload(dir, 'p1', 'ca.pem', cas[1]!.pem);
    expect(cli(dir, 'remove', '--partner', 'p1', '--reason', 'offboarded').status).toBe(0);
    // Another partner may take it only once its retirement is over (its clients are p1's until then).
    mkdirSync(join(dir, 'inbox', 'p2'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'p2', 'ca.pem'), cas[1]!.pem);
    const taken = cli(dir, 'ingest', '--json');
    expect(taken.status).toBe(1);
    expect(taken.out).toMatch(/ca\.other-partner/);
    expect(taken.out).toMatch(
      /the door still decides its clients as that partner's until \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );

    const history = JSON.parse(cli(dir, 'history', '--json').out) as {
      revision: number;
      added: { partner: string }[];
      removed: { partner: string }[];
    }[];
    const at = (n: number) => history.find((h) => h.revision === n)!;
    expect(at(2).added.map((a) => a.partner)).toEqual(['p1']);
    expect(at(3).removed.map((a) => a.partner)).toEqual(['p1']);
    expect(history.map((h) => h.revision).sort()).toEqual([1, 2, 3]);
    const text = cli(dir, 'history').out;
    expect(text).toMatch(/revision 2 .*\n\s+\+ CN=Newcomer More Root 1,O=Acme \(p1\)/);

    expect(cli(dir, 'diff', '1', '2').out).toMatch(/\+ CN=Newcomer More Root 1,O=Acme \(partner p1,/);
    expect(cli(dir, 'diff', '2', '3').out).toMatch(/- CN=Newcomer More Root 1,O=Acme \(partner p1,/);
  }, 240_000);
});

describe('ingest --inbox given as ".", "./" or "inbox/"', () => {
  it('processes the uploads in it; only names inside it starting with "." are skipped', () => {
    for (const [n, inbox, cwd] of [
      [0, '.', 'inbox'],
      [1, './', 'inbox'],
      [2, 'inbox/', '.'],
    ] as const) {
      const dir = fresh(`inbox-dot-${n}`);
      mkdirSync(join(dir, 'inbox', 'p1'), { recursive: true });
      mkdirSync(join(dir, 'inbox', '.hidden'), { recursive: true });
      writeFileSync(join(dir, 'inbox', 'p1', 'ca.pem'), cas[0]!.pem);
      writeFileSync(join(dir, 'inbox', 'p1', '.ca2.pem'), cas[1]!.pem);
      writeFileSync(join(dir, 'inbox', '.hidden', 'ca.pem'), cas[2]!.pem);
      const dataDir = cwd === '.' ? 'data' : '../data';
      const r = cli(join(dir, cwd), 'ingest', '--inbox', inbox, '--data-dir', dataDir, '--json');
      expect(r.status, r.err).toBe(0);
      const report = JSON.parse(r.out) as { uploads: { key: string; outcome: string }[] };
      expect(report.uploads.map((u) => [u.key, u.outcome])).toEqual([['inbox/p1/ca.pem', 'accepted']]);
    }
  }, 240_000);
});

describe('--at with a day or time that is not on the calendar', () => {
  it('is refused instead of moved to another day', () => {
    const dir = fresh('at-calendar');
    writeFileSync(join(dir, 'ca.pem'), cas[0]!.pem);
    refused(
      cli(dir, 'lint', 'ca.pem', '--at', '2027-02-30'),
      /--at 2027-02-30 is not a date on the calendar/,
    );
    refused(
      cli(dir, 'lint', 'ca.pem', '--at', '2027-02-29'),
      /--at 2027-02-29 is not a date on the calendar/,
    );
    refused(
      cli(dir, 'scan', 'ca.pem', '--at', '2027-02-30'),
      /--at 2027-02-30 is not a date on the calendar/,
    );
    refused(
      cli(dir, 'lint', 'ca.pem', '--at', '2027-01-31T24:00:00Z'),
      /--at 2027-01-31T24:00:00Z is not a time of day/,
    );
    const leap = cli(dir, 'scan', 'ca.pem', '--at', '2028-02-29');
    expect(leap.err).not.toMatch(/--at/);
    expect(leap.out).toMatch(/2028-02-29/);
  }, 240_000);
});

describe('exit statuses as README and --help say', () => {
  it('rollback with nothing earlier is a refusal (1), not a usage error', () => {
    const dir = fresh('rollback-nothing');
    upload(dir, 'p1', 'ca.pem', cas[0]!.pem);
    const r = cli(dir, 'rollback');
    expect(r.status, r.err + r.out).toBe(1);
    expect(r.out).toMatch(/no earlier truststore version to roll back to/);
    expect(r.err).not.toMatch(/Error:|at .*\.m?js:\d+/);
    const json = cli(dir, 'rollback', '--json');
    expect(json.status).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ outcome: 'rejected' });
    // A version that is not there is still a usage error.
    refused(cli(dir, 'rollback', '--to', '7'), /7 is not a truststore version or revision/);
  }, 240_000);

  it('promote --to a file (or a path through one) --create is a usage error, not a failure to retry', () => {
    const dir = fresh('promote-to-file');
    upload(dir, 'p1', 'ca.pem', cas[0]!.pem);
    writeFileSync(join(dir, 'a-file'), 'x');
    for (const to of ['a-file', 'a-file/sub']) {
      const r = cli(dir, 'promote', '--from', '.trustroll', '--to', to, '--create', '--yes');
      refused(r, /--to a-file.* is a file, not a folder/);
      expect(r.err).not.toMatch(/ENOTDIR|run the command again/);
    }
  }, 240_000);

  it('status --help declares the damaged store under 1 only, as it exits', () => {
    const help = cli(work, 'status', '--help').out;
    const statuses = help.slice(help.indexOf('Exit status:'));
    expect(statuses).toMatch(/\n {2}1 {2}.*the store is damaged/);
    expect(statuses).not.toMatch(/\n {2}4 /);
  }, 60_000);
});

describe('folders where a file is wanted, files that cannot be read', () => {
  let dir: string;
  beforeAll(() => {
    dir = fresh('folders');
    const init = cli(dir, 'pki', 'init', 'pki');
    expect(init.status, init.err).toBe(0);
  }, 120_000);

  it('diagnose refuses a folder for --cert, --chain, --key and --crl', () => {
    const base = ['diagnose', '--truststore', 'pki/ca-bundle.pem'];
    refused(cli(dir, ...base, '--cert', 'pki'), /--cert wants a file, and pki is a folder/);
    for (const option of ['--chain', '--key', '--crl'])
      refused(
        cli(dir, ...base, '--cert', 'pki/client.pem', option, 'pki'),
        new RegExp(`${option} wants a file, and pki is a folder`),
      );
  }, 120_000);

  it('diagnose --truststore <pki init folder> skips the key files with a note, never reading them as CAs', () => {
    const r = cli(dir, 'diagnose', '--truststore', 'pki', '--cert', 'pki/client.pem');
    expect(r.status, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/^ACCEPTED/);
    expect(r.err).toMatch(/note: skipped pki\/client\.key in the truststore folder: it holds a private key/);
    expect(r.err).not.toMatch(/BEGIN|PRIVATE KEY-----/);
  }, 120_000);

  it('scan <folder> says it wants a file', () => {
    refused(cli(dir, 'scan', 'pki'), /scan wants a file, and pki is a folder/);
  }, 120_000);

  it('remove --request names the file when it is a folder, missing or not JSON', () => {
    upload(dir, 'p1', 'ca.pem', cas[0]!.pem);
    mkdirSync(join(dir, 'req-dir'), { recursive: true });
    writeFileSync(join(dir, 'bad.json'), '{bad');
    const one = (r: ReturnType<typeof cli>, message: RegExp) => {
      refused(r, message);
      expect(r.err).not.toMatch(/EISDIR|ENOENT/);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    };
    one(cli(dir, 'remove', '--request', 'req-dir'), /--request wants a file, and req-dir is a folder/);
    one(cli(dir, 'remove', '--request', 'nope.json'), /--request nope\.json: no such file/);
    one(
      cli(dir, 'remove', '--request', 'bad.json'),
      /--request bad\.json is not valid JSON \(.*\): write it as/,
    );
  }, 240_000);
});

describe('diagnose when the name of the issuer is trusted with another key', () => {
  it('says a different key signed the client and how to fix it, not "add that CA"', async () => {
    const dir = fresh('diagnose-namesake');
    const trusted = await root('CN=Namesake Root,O=Acme', { keySlot: 'newcomer-more-namesake-a' });
    const other = await root('CN=Namesake Root,O=Acme', { keySlot: 'newcomer-more-namesake-b' });
    const client = await leaf('CN=client.namesake.example,O=Acme', other, {
      keySlot: 'newcomer-more-client',
    });
    writeFileSync(join(dir, 'truststore.pem'), trusted.pem);
    writeFileSync(join(dir, 'client.pem'), client.pem);
    const r = cli(dir, 'diagnose', '--truststore', 'truststore.pem', '--cert', 'client.pem');
    expect(r.status, r.err).toBe(1);
    expect(r.out).toMatch(/\[issuer-key-mismatch\]/);
    expect(r.out).toMatch(/holds a CA named CN=Namesake Root,O=Acme, but a different key signed/);
    expect(r.out).toMatch(/inbox\/<partner>\/replace\//);
    expect(r.out).not.toMatch(/Add that CA/);
    const json = cli(dir, 'diagnose', '--truststore', 'truststore.pem', '--cert', 'client.pem', '--json');
    expect((JSON.parse(json.out) as { reasons: { code: string }[] }).reasons.map((x) => x.code)).toEqual([
      'issuer-key-mismatch',
    ]);
    // A client whose issuer's name is nowhere in the truststore keeps its reason.
    writeFileSync(join(dir, 'stranger.pem'), cas[0]!.pem);
    const stranger = cli(dir, 'diagnose', '--truststore', 'stranger.pem', '--cert', 'client.pem');
    expect(stranger.out).toMatch(/Add that CA to the truststore\.\s+\[issuer-unknown\]/);
  }, 240_000);
});

/** The CLI without blocking this process (a server in this process answers it). */
const cliAsync = (cwd: string, ...args: string[]) =>
  new Promise<ReturnType<typeof cli>>((resolve) => {
    const child = spawn('node', [BIN, ...args], { cwd });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (status) => resolve({ status, out, err }));
  });

describe('probe', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill('SIGINT');
  });

  it('against a plain-HTTP port says it does not speak TLS, not that a client certificate was requested', async () => {
    dir = fresh('probe');
    const http = createServer((_req, res) => res.end('plain\n'));
    http.listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    try {
      const { port } = http.address() as AddressInfo;
      const r = await cliAsync(dir, 'probe', `127.0.0.1:${port}`);
      expect(r.status, r.err).toBe(1);
      expect(r.out).not.toMatch(/requested by the server: yes/);
      expect(r.out).toMatch(/requested by the server: unknown/);
      expect(r.out).toMatch(
        /meaning: +Something answers at 127\.0\.0\.1:\d+, but not with TLS \(a plain-HTTP port\?\)/,
      );
      expect(r.out).not.toMatch(/\\n|SSL routines/);
      const json = JSON.parse((await cliAsync(dir, 'probe', `127.0.0.1:${port}`, '--json')).out) as {
        clientCertRequested: string;
      };
      expect(json.clientCertRequested).toBe('unknown');
    } finally {
      http.close();
    }
  }, 120_000);

  it("shows the reason the local endpoint's 403 carries", async () => {
    expect(cli(dir, 'pki', 'init', 'pki').status).toBe(0);
    let log = '';
    server = spawn(
      'node',
      [
        BIN,
        'serve',
        '--truststore',
        'pki/root-only-truststore.pem',
        '--cert',
        'pki/server.pem',
        '--key',
        'pki/server.key',
        '--port',
        '0',
      ],
      { cwd: dir },
    );
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    const port = await waitFor(
      () => Number(/serving https:\/\/localhost:(\d+)\//.exec(log)?.[1]) || undefined,
      30_000,
      () => log,
    );
    const args = [
      'probe',
      `localhost:${port}`,
      '--ca',
      'pki/server-ca.pem',
      '--cert',
      'pki/client-chain.pem',
      '--key',
      'pki/client.key',
    ];
    const r = await cliAsync(dir, ...args);
    expect(r.status, r.err + r.out).toBe(1);
    expect(r.out).toMatch(/HTTP status: +403/);
    expect(r.out).toMatch(/meaning: .*403, reason intermediate-not-in-truststore/);
    const json = JSON.parse((await cliAsync(dir, ...args, '--json')).out) as { refusal?: { reason: string } };
    expect(json.refusal?.reason).toBe('intermediate-not-in-truststore');
  }, 120_000);
});

describe('status after trustroll up stopped', () => {
  it('says the endpoint is not running instead of AVAILABLE', async () => {
    const dir = fresh('status-stopped');
    const up = await startUp(dir, ['--no-demo']);
    try {
      const running = await cliAsync(dir, 'status');
      expect(running.out).not.toMatch(/NOT_RUNNING|not running/);
      expect(running.out).toMatch(/localhost: AVAILABLE/);
    } finally {
      // Killed outright, as when only its process id is stopped: nothing is written on the way out.
      up.child.kill('SIGKILL');
      await new Promise((r) =>
        up.child.exitCode !== null || up.child.signalCode ? r(null) : up.child.once('exit', r),
      );
    }
    const r = await cliAsync(dir, 'status');
    expect(r.status, r.err + r.out).toBe(1);
    expect(r.out).not.toMatch(/AVAILABLE/);
    expect(r.out).toMatch(
      /localhost: the local endpoint is not running \(trustroll up stopped; last seen at \d{4}-/,
    );
    const json = JSON.parse((await cliAsync(dir, 'status', '--json')).out) as { status: string }[];
    expect(json[0]!.status).toBe('NOT_RUNNING');
  }, 180_000);
});
