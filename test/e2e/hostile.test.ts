import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localStore } from '../../cli/local.js';
import { keptKeys, parseUploadKey } from '../../shared/pipeline/upload-key.js';
import { type Issued, issue as issueCert, partnerChain } from '../../shared/pki/builder.js';
import { rsaSpki } from '../fixtures/der.js';
import { keyPackagings, leaks } from '../fixtures/hostile.js';
import { BIN, build, startUp, waitFor } from './helpers.js';

/**
 * Hostile uploads through the public command (`trustroll ingest`), each principle of issue 15
 * checked on the files the command leaves behind: nothing an upload brought is kept unless it was
 * understood, and nothing outside the inbox is read or deleted.
 */
const ingest = (cwd: string, ...args: string[]) =>
  spawnSync('node', [BIN, 'ingest', '--json', ...args], { cwd, encoding: 'utf8' });
/** Every file below `dir` (regular files; links are not followed). */
const files = (dir: string): string[] => {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const info = lstatSync(p);
    if (info.isDirectory()) out.push(...files(p));
    else if (info.isFile()) out.push(p);
  }
  return out;
};

let acme: Awaited<ReturnType<typeof partnerChain>>;
let key: KeyObject;
let keyDer: Buffer;
beforeAll(async () => {
  build();
  acme = await partnerChain('Acme');
  key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  keyDer = key.export({ type: 'pkcs8', format: 'der' }) as Buffer;
});

describe('principle 1: only what was understood is kept', () => {
  it('keeps no byte of a private key, however it is packaged, and alerts on every packaging it recognises', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-hostile-'));
    const inbox = join(dir, 'inbox', 'acme');
    mkdirSync(inbox, { recursive: true });
    const uploads = await keyPackagings(acme.root, key);
    for (const [name, body] of Object.entries(uploads)) writeFileSync(join(inbox, name), body);
    // A control: the same certificate alone is accepted.
    writeFileSync(join(inbox, 'clean.pem'), acme.root.pem);

    const r = ingest(dir);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const report = JSON.parse(r.stdout) as { uploads: { key: string; outcome: string }[] };
    const outcome = Object.fromEntries(
      report.uploads.map((u) => [u.key.slice('inbox/acme/'.length), u.outcome]),
    );
    expect(outcome['clean.pem']).toBe('accepted');
    // Recognised: each of these is alerted as a private key (critical).
    const refusedWhole = (n: string) => n === 'oversize.pem' || n.startsWith('deep-');
    for (const name of Object.keys(uploads).filter((n) => !refusedWhole(n)))
      expect(outcome[name], name).toBe('private-key');
    // Refused from its size alone, never read: nothing of it can be recognised, nor kept.
    expect(outcome['oversize.pem']).toBe('rejected');
    // Nested past the depth the hunt follows: refused whole, nothing of it kept.
    for (const name of Object.keys(uploads).filter((n) => n.startsWith('deep-')))
      expect(outcome[name], name).toBe('rejected');

    // Kept: nothing anywhere (inbox, store, archive, rejected, outbox) holds the key's bytes.
    expect(readdirSync(inbox)).toEqual([]);
    const kept = files(dir);
    expect(kept.length).toBeGreaterThan(10);
    for (const f of kept) expect(leaks(keyDer, readFileSync(f)), f).toEqual([]);
    expect(leaks(keyDer, Buffer.from(r.stdout + r.stderr))).toEqual([]);
    const alerts = readFileSync(join(dir, '.trustroll', 'outbox.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { eventType: string; severity: string });
    expect(
      alerts.filter((a) => a.eventType === 'upload.private-key' && a.severity === 'critical'),
    ).toHaveLength(Object.keys(uploads).filter((n) => !refusedWhole(n)).length);
  });
});

describe('principle 2: never a link out of the inbox', () => {
  it('refuses a symlinked partner folder and a symlinked file with a report, reading and deleting nothing outside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-links-'));
    const outside = mkdtempSync(join(tmpdir(), 'trustroll-outside-'));
    writeFileSync(join(outside, 'ca.pem'), acme.root.pem);
    writeFileSync(join(outside, 'secret.pem'), acme.intermediate.pem);
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    symlinkSync(outside, join(dir, 'inbox', 'evil'));
    symlinkSync(join(outside, 'secret.pem'), join(dir, 'inbox', 'acme', 'link.pem'));

    // Named through the linked folder first (nothing in it may be read, nor deleted), then all.
    const named = ingest(dir, 'inbox/evil/ca.pem');
    const all = ingest(dir);
    for (const r of [all, named]) expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    // What they pointed to is untouched, and was never read into the store or the reports.
    expect(readFileSync(join(outside, 'ca.pem'), 'utf8')).toBe(acme.root.pem);
    expect(readFileSync(join(outside, 'secret.pem'), 'utf8')).toBe(acme.intermediate.pem);
    const kept = files(join(dir, '.trustroll'));
    const body = (pem: string) => pem.split('\n')[2]!;
    for (const f of kept) {
      const text = readFileSync(f, 'utf8');
      expect(text.includes(body(acme.root.pem)) || text.includes(body(acme.intermediate.pem)), f).toBe(false);
    }
    // Each is refused with a report that says why.
    const reports = kept.filter((f) => f.endsWith('.report.json')).map((f) => readFileSync(f, 'utf8'));
    expect(reports.some((t) => t.includes('link.pem') && t.includes('symbolic link'))).toBe(true);
    expect(reports.some((t) => t.includes('inbox/evil') && t.includes('symbolic link'))).toBe(true);
    expect(JSON.parse(named.stdout).uploads[0]).toMatchObject({
      key: 'inbox/evil/ca.pem',
      outcome: 'rejected',
    });
    // The links themselves were inside the inbox: they are gone; the folder they pointed to is not.
    expect(existsSync(join(dir, 'inbox', 'acme', 'link.pem'))).toBe(false);
    expect(existsSync(outside)).toBe(true);
  });
});

describe('principle 3: identity is content', () => {
  it('takes a different file with the same name, size and time as a new upload, and keeps both records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-identity-'));
    const inbox = join(dir, 'inbox', 'acme');
    mkdirSync(inbox, { recursive: true });
    const other = await partnerChain('Other');
    // Two roots padded to the same size (blank lines), written with the same mtime.
    const first: Issued = acme.root;
    const second: Issued = other.root;
    const size = Math.max(first.pem.length, second.pem.length);
    const padded = (pem: string) => pem + '\n'.repeat(size - pem.length);
    const when = new Date('2026-11-30T10:00:00Z');
    writeFileSync(join(inbox, 'ca.pem'), padded(first.pem));
    utimesSync(join(inbox, 'ca.pem'), when, when);
    expect(JSON.parse(ingest(dir).stdout).uploads[0].outcome).toBe('accepted');
    writeFileSync(join(inbox, 'ca.pem'), padded(second.pem));
    utimesSync(join(inbox, 'ca.pem'), when, when);
    const again = JSON.parse(ingest(dir).stdout);
    expect(again.uploads[0].outcome).toBe('accepted');
    const archived = readdirSync(join(dir, '.trustroll', 'archive', 'acme')).sort();
    expect(archived.filter((f) => f.endsWith('.report.json'))).toHaveLength(2);
    const pems = archived
      .filter((f) => f.endsWith('.pem'))
      .map((f) => readFileSync(join(dir, '.trustroll', 'archive', 'acme', f), 'utf8'));
    expect(pems.map((p) => p.trim()).sort()).toEqual([first.pem.trim(), second.pem.trim()].sort());
  });
});

describe("principle 3: no upload can take the name of another upload's record", () => {
  it('keeps the records of an upload and of a folder named like that record, and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-tagclash-'));
    const key = 'inbox/evil/x.pem';
    mkdirSync(join(dir, 'inbox', 'evil'), { recursive: true });
    writeFileSync(join(dir, key), 'not a certificate\n');
    // The record x.pem will have (its tag can be worked out by whoever knows its name, time and
    // content), taken first as the name of a folder of another upload.
    const store = localStore({ dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') });
    const { version } = await store.head(key);
    const sha16 = createHash('sha256').update('not a certificate\n').digest('hex').slice(0, 16);
    const record = keptKeys(parseUploadKey(key), key, 'rejected', `${key}@${version}#${sha16}`).report;
    const clash = record.slice(record.lastIndexOf('/') + 1);
    mkdirSync(join(dir, 'inbox', 'evil', clash), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'evil', clash, 'y.txt'), 'not a certificate either\n');
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), acme.root.pem);

    const r = ingest(dir);
    // Exit 1: the not-a-certificate upload was rejected (documented); the batch went on.
    expect(r.status, r.stderr).toBe(1);
    const outcomes = JSON.parse(r.stdout).uploads.map((u: { key: string; outcome: string }) => [
      u.key,
      u.outcome,
    ]);
    expect(outcomes.sort()).toEqual(
      [
        ['inbox/acme/ca.pem', 'accepted'],
        [key, 'rejected'],
        [`inbox/evil/${clash}/y.txt`, 'rejected'],
      ].sort(),
    );
    // The upload's record is where it was worked out to be; the folder's records are apart.
    expect(readFileSync(join(dir, '.trustroll', record), 'utf8')).toContain(key);
    expect(
      files(join(dir, '.trustroll', 'rejected', 'evil')).filter((f) => f.includes('y.txt@')),
    ).toHaveLength(1);
  });
});

describe('principle 4: many files, odd names and re-uploads', () => {
  it('judges 400 files under a 128 open-file limit: none is rejected for EMFILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-many-'));
    mkdirSync(join(dir, 'inbox', 'many'), { recursive: true });
    for (let i = 0; i < 400; i++) {
      const ca = await issueCert({ subject: `CN=Many ${i} Root CA,O=Many`, keySlot: `many-${i % 8}` });
      writeFileSync(join(dir, 'inbox', 'many', `ca-${i}.pem`), ca.pem);
    }
    const r = spawnSync('sh', ['-c', `ulimit -n 128 && exec node ${BIN} ingest --json`], {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.status, r.stderr.slice(0, 2000)).toBe(0);
    const outcomes = JSON.parse(r.stdout).uploads.map((u: { outcome: string }) => u.outcome);
    expect(outcomes).toHaveLength(400);
    expect(outcomes.filter((o: string) => o !== 'accepted')).toEqual([]);
  }, 180_000);

  it('takes the same file put back after its CA was removed (same name, size and time) as a new upload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-putback-'));
    const file = join(dir, 'inbox', 'acme', 'ca.pem');
    mkdirSync(dirname(file), { recursive: true });
    const when = new Date('2026-11-01T12:00:00Z');
    const put = () => {
      writeFileSync(file, acme.root.pem);
      utimesSync(file, when, when);
    };
    put();
    expect(JSON.parse(ingest(dir).stdout).uploads[0].outcome).toBe('accepted');
    const removed = spawnSync('node', [BIN, 'remove', '--partner', 'acme', '--reason', 'test'], {
      cwd: dir,
      encoding: 'utf8',
    });
    // The last CA cannot go (an empty truststore is refused): add another partner first.
    expect(removed.status).toBe(1);
    mkdirSync(join(dir, 'inbox', 'beta'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'beta', 'ca.pem'), (await partnerChain('Beta')).root.pem);
    ingest(dir);
    const again = spawnSync('node', [BIN, 'remove', '--partner', 'acme', '--reason', 'test'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(again.status, again.stdout + again.stderr).toBe(0);
    put();
    const back = JSON.parse(ingest(dir).stdout).uploads[0];
    expect(back).toMatchObject({ key: 'inbox/acme/ca.pem', outcome: 'accepted' });
    const history = spawnSync('node', [BIN, 'history', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(history.stdout)[0].added.map((a: { partner: string }) => a.partner)).toEqual(['acme']);
  });

  it('judges a file whose name is not UTF-8, under a name that is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-nonutf8-'));
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(Buffer.from(`${dir}/inbox/acme/ca\xff.pem`, 'latin1'), acme.root.pem);
    const r = ingest(dir);
    expect(JSON.parse(r.stdout).uploads).toMatchObject([
      { key: 'inbox/acme/ca%FF.pem', outcome: 'accepted' },
    ]);
    expect(readdirSync(join(dir, 'inbox', 'acme'))).toEqual([]);
  });
});

describe('principle 4: one bad item never stops the rest', () => {
  it('judges a pipe, a file/folder name clash and malformed removal requests alone, and goes on serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-poison-'));
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    mkdirSync(join(dir, 'requests'), { recursive: true });
    const up = await startUp(dir, ['--no-demo']);
    // As the README asks of writers: write under a hidden name, then rename into place, so the
    // running up never reads a file half-written (that race made this test flaky under load).
    const drop = (path: string, text: string) => {
      const tmp = join(dirname(path), `.${basename(path)}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, path);
    };
    try {
      // A named pipe: reading it would block forever; it is not a regular file.
      expect(spawnSync('mkfifo', [join(dir, 'inbox', 'acme', 'pipe.pem')]).status).toBe(0);
      // A file named x, then (once it is handled) a folder named x.
      drop(join(dir, 'inbox', 'acme', 'x'), acme.root.pem);
      await waitFor(() => !existsSync(join(dir, 'inbox', 'acme', 'x')) || undefined, 20_000, up.output);
      mkdirSync(join(dir, 'inbox', 'acme', 'x'));
      drop(join(dir, 'inbox', 'acme', 'x', 'ca.pem'), pemOfChain(acme));
      // Removal requests of the wrong shape, one nested 10,000 levels deep.
      drop(
        join(dir, 'requests', 'types.json'),
        JSON.stringify({ subject: 123, reason: 'x', requestedBy: 'y' }),
      );
      drop(
        join(dir, 'requests', 'numeric.json'),
        JSON.stringify({ fingerprints: [123456789012], reason: 'x', requestedBy: 'y' }),
      );
      drop(
        join(dir, 'requests', 'deep.json'),
        `{"partner":${'['.repeat(10_000)}${']'.repeat(10_000)},"reason":"x","requestedBy":"y"}`,
      );
      const reports = () =>
        files(join(dir, '.trustroll'))
          .filter((f) => f.endsWith('.report.json'))
          .map((f) => f.slice(join(dir, '.trustroll').length + 1));
      await waitFor(
        () =>
          [
            'rejected/acme/pipe.pem@',
            'archive/acme/x/ca.pem@',
            'requests/types.json',
            'requests/numeric.json',
            'requests/deep.json',
          ].every((p) => reports().some((r) => r.includes(p))) || undefined,
        30_000,
        () => `${up.output()}\nreports: ${reports().join(', ')}`,
      );
      const report = (part: string) =>
        JSON.parse(readFileSync(join(dir, '.trustroll', reports().find((r) => r.includes(part))!), 'utf8'));
      expect(report('pipe.pem').findings[0].message).toMatch(/not a regular file/);
      expect(report('requests/types.json').message).toMatch(/subject must be a non-empty string/);
      expect(report('requests/numeric.json').message).toMatch(/fingerprints must be a non-empty list/);
      expect(report('requests/deep.json').message).toMatch(/partner must be a non-empty string/);
      // requests/ is left empty (a request goes once its report is written), and no step failed.
      await waitFor(() => readdirSync(join(dir, 'requests')).length === 0 || undefined, 20_000, up.output);
      expect(up.output()).not.toMatch(/pipeline step failed/);
      // And the endpoint serves the latest version, with the CAs that came in beside the bad items.
      await waitFor(
        () => {
          const r = spawnSync('node', [BIN, 'status', '--json'], { cwd: dir, encoding: 'utf8' });
          return r.status === 0 && JSON.parse(r.stdout)[0]?.latest === true ? true : undefined;
        },
        20_000,
        up.output,
      );
    } finally {
      await up.stop();
    }
  });
});

const pemOfChain = (chain: Awaited<ReturnType<typeof partnerChain>>) =>
  `${chain.root.pem}${chain.intermediate.pem}`;

describe('principles 5 and 6, through trustroll lint', () => {
  const lint = (file: string) => spawnSync('node', [BIN, 'lint', '--json', file], { encoding: 'utf8' });

  it('refuses a CA key no CA should have (a 3,070-bit RSA exponent) before any signature work with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-keys-'));
    const root = await issueCert({ subject: 'CN=Odd Key Root', key: 'rsa2048' });
    const odd = await issueCert({ subject: 'CN=Odd Key CA', issuer: root, spki: rsaSpki(3072, 3070) });
    writeFileSync(join(dir, 'bundle.pem'), `${root.pem}${odd.pem}`);
    const r = lint(join(dir, 'bundle.pem'));
    expect(r.status).toBe(1);
    const codes = JSON.parse(r.stdout).findings.map((f: { code: string }) => f.code);
    expect(codes).toContain('key.unsupported');
    expect(
      JSON.parse(r.stdout).findings.find((f: { code: string }) => f.code === 'key.unsupported').message,
    ).toMatch(/public exponent of 3070 bits/);
  });

  it('refuses CAs that sign each other with no self-signed root: a loop never anchors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-loop-'));
    const a0 = await issueCert({ subject: 'CN=Loop A,O=Loop' });
    const b = await issueCert({ subject: 'CN=Loop B,O=Loop', issuer: a0 });
    const a = await issueCert({ subject: 'CN=Loop A,O=Loop', issuer: b });
    writeFileSync(join(dir, 'pair.pem'), `${a.pem}${b.pem}`);
    const r = lint(join(dir, 'pair.pem'));
    expect(r.status).toBe(1);
    const findings = JSON.parse(r.stdout).findings as { code: string; message: string }[];
    expect(findings.filter((f) => f.code === 'chain.no-root')).toHaveLength(2);
    expect(findings[0]!.message).toMatch(/loop \("CN=Loop [AB],O=Loop" → "CN=Loop [AB],O=Loop" → /);
    // openssl agrees: nothing anchors this pair.
    const openssl = spawnSync(
      'openssl',
      ['verify', '-CAfile', join(dir, 'pair.pem'), join(dir, 'pair.pem')],
      {
        encoding: 'utf8',
      },
    );
    expect(openssl.status).not.toBe(0);
  });
});

describe('principle 7: a damaged store is named, never reinterpreted', () => {
  it('refuses to write past a truststore version deleted by hand, explains it, and repairs it without reusing the id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-damage-'));
    const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { cwd: dir, encoding: 'utf8' });
    const inbox = join(dir, 'inbox', 'acme');
    mkdirSync(inbox, { recursive: true });
    writeFileSync(join(inbox, 'ca.pem'), pemOfChain(acme));
    expect(cli('ingest').status).toBe(0);
    const versions = join(dir, '.trustroll', 'store', 'truststore', 'truststore.pem.v');
    // The latest (and only) truststore version is deleted by hand.
    for (const f of ['000001', '000001.meta.json']) spawnSync('rm', [join(versions, f)]);

    const other = await partnerChain('Later Partner');
    mkdirSync(join(dir, 'inbox', 'later'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'later', 'ca.pem'), pemOfChain(other));
    const refused = cli('ingest');
    expect(refused.status).toBe(4);
    expect(refused.stderr).toMatch(
      /the store is damaged: truststore version 000001 \(revision 1\), recorded as published, is missing .*trustroll repair/,
    );
    expect(refused.stderr).not.toMatch(/at .*\.js:\d+/);
    // Nothing was written: the upload waits in the inbox, no version appeared.
    expect(existsSync(join(dir, 'inbox', 'later', 'ca.pem'))).toBe(true);
    expect(readdirSync(versions).filter((f) => /^\d+$/.test(f))).toEqual([]);
    const status = cli('status');
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(/^DAMAGED: truststore version 000001 .*missing/m);
    const up = spawnSync('node', [BIN, 'up', '--no-demo', '--port', '0'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(up.status).toBe(4);
    expect(up.stderr).toMatch(/the store is damaged/);

    const repair = cli('repair');
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(/revision 1: truststore version 000001 is missing; marked as lost/);
    expect(repair.stdout).toMatch(/served as truststore version 000002/);
    expect(cli('ingest').status).toBe(0);
    const history = JSON.parse(cli('history', '--json').stdout) as { revision: number; version?: string }[];
    expect(history.map((h) => h.version)).toEqual(['000003', '000002']);
    expect(cli('status').stdout).not.toMatch(/DAMAGED/);
  });

  it('names a truncated state with its path instead of a bare SyntaxError, and restores the last readable one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-truncated-'));
    const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { cwd: dir, encoding: 'utf8' });
    for (const [partner, chain] of [['acme', acme]] as const) {
      mkdirSync(join(dir, 'inbox', partner), { recursive: true });
      writeFileSync(join(dir, 'inbox', partner, 'ca.pem'), pemOfChain(chain));
    }
    expect(cli('ingest').status).toBe(0);
    const stateDir = join(dir, '.trustroll', 'store', 'state', 'truststore.json.v');
    const latest = readdirSync(stateDir)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    const text = readFileSync(join(stateDir, latest), 'utf8');
    writeFileSync(join(stateDir, latest), text.slice(0, text.length / 2));
    const history = cli('history');
    expect(history.status).toBe(4);
    expect(history.stderr).toMatch(
      new RegExp(`state/truststore\\.json \\(version ${latest}\\) cannot be read: .*trustroll repair`),
    );
    expect(history.stderr).not.toMatch(/SyntaxError: /);
    const repair = cli('repair');
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(
      new RegExp(`version ${latest} could not be read \\(.*\\); restored version \\d+`),
    );
    expect(cli('history').status).toBe(0);
  });
});

/** A store two partners were ingested into (revisions 1 and 2), copied afresh for each test. */
let damageBase: string | undefined;
const damageFixture = async () => {
  if (!damageBase) {
    damageBase = mkdtempSync(join(tmpdir(), 'trustroll-damage-base-'));
    for (const [partner, chain] of [
      ['acme', acme],
      ['beta', await partnerChain('Beta')],
    ] as const) {
      mkdirSync(join(damageBase, 'inbox', partner), { recursive: true });
      writeFileSync(join(damageBase, 'inbox', partner, 'ca.pem'), pemOfChain(chain));
      const r = spawnSync('node', [BIN, 'ingest'], { cwd: damageBase, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`seeding the store failed: ${r.stderr}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-damaged-'));
  cpSync(damageBase, dir, { recursive: true });
  const store = join(dir, '.trustroll', 'store');
  const numbered = (folder: string) =>
    readdirSync(folder)
      .filter((f) => /^\d+$/.test(f))
      .sort();
  return {
    dir,
    cli: (...args: string[]) => spawnSync('node', [BIN, ...args], { cwd: dir, encoding: 'utf8' }),
    stateDir: join(store, 'state', 'truststore.json.v'),
    truststoreDir: join(store, 'truststore', 'truststore.pem.v'),
    numbered,
    /** Drops a third partner's CAs into the inbox: what a writer would judge next. */
    dropNext: async () => {
      mkdirSync(join(dir, 'inbox', 'gamma'), { recursive: true });
      writeFileSync(join(dir, 'inbox', 'gamma', 'ca.pem'), pemOfChain(await partnerChain('Gamma')));
      return join(dir, 'inbox', 'gamma', 'ca.pem');
    },
  };
};

describe('principle 7, continued: damage found through the public commands', () => {
  const noCrash = (r: { stderr: string }) =>
    expect(r.stderr).not.toMatch(/unexpected failure|ENOENT|TypeError/);
  /** `status` finds no damage and goes on to the endpoint, which never ran on this store. */
  const expectIntact = (f: Awaited<ReturnType<typeof damageFixture>>) => {
    const status = f.cli('status');
    noCrash(status);
    expect(status.stdout).not.toMatch(/DAMAGED/);
    expect(status.stdout).toMatch(/no local endpoint has run with this data folder yet/);
  };

  it('takes a truststore version whose body was deleted (its meta kept) as missing: named, refused, repaired', async () => {
    const f = await damageFixture();
    rmSync(join(f.truststoreDir, '000002'));
    const upload = await f.dropNext();

    const status = f.cli('status');
    noCrash(status);
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(
      /^DAMAGED: truststore version 000002 \(revision 2\), recorded as published, is missing/m,
    );
    for (const args of [['ingest'], ['rollback'], ['remove', '--partner', 'acme', '--reason', 'test']]) {
      const r = f.cli(...args);
      noCrash(r);
      expect([args[0], r.status]).toEqual([args[0], 4]);
      expect(r.stderr).toMatch(/the store is damaged: truststore version 000002 .*missing/);
    }
    // The latest version gone is damage, not the retention that expires older versions.
    const diff = f.cli('diff', '1', '2');
    noCrash(diff);
    expect(diff.status).toBe(4);
    expect(diff.stderr).toMatch(/the store is damaged: truststore version 000002, .*is missing/);
    expect(existsSync(upload)).toBe(true);

    const repair = f.cli('repair');
    noCrash(repair);
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(/revision 2: truststore version 000002 is missing; marked as lost/);
    expect(repair.stdout).toMatch(/served as truststore version 000003/);
    expectIntact(f);
  });

  it('takes a state version whose body was deleted as gone: the one before it is read, nothing crashes', async () => {
    const f = await damageFixture();
    const latest = f.numbered(f.stateDir).at(-1)!;
    rmSync(join(f.stateDir, latest));
    // The write deleted is the one that recorded revision 2's version id (with the delivered
    // alerts): the state before it is revision 2 committed and published, its version not yet
    // recorded, as a run stopped between its publish and that write leaves it. diff names
    // revision 2 as not published yet; repair records it, and diff works again.
    for (const args of [['status'], ['history'], ['diff', '1', '2'], ['repair'], ['ingest']]) {
      const r = f.cli(...args);
      noCrash(r);
      if (args[0] === 'diff') {
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(/revision 2 is not published yet/);
      } else expect([args[0], r.status === 0 || r.status === 1]).toEqual([args[0], true]);
    }
    const diff = f.cli('diff', '1', '2');
    noCrash(diff);
    expect(diff.status).toBe(0);
    expectIntact(f);
  });

  it('names a state whose newest versions were deleted by hand as gone back, writes nothing, and repair rebuilds it', async () => {
    const f = await damageFixture();
    // Every state version from revision 2 on, as `rm state/truststore.json.v/0000{7,8,9}*` does.
    for (const v of f.numbered(f.stateDir)) {
      const { revision } = JSON.parse(readFileSync(join(f.stateDir, v), 'utf8')) as { revision: number };
      if (revision >= 2) for (const file of [v, `${v}.meta.json`]) rmSync(join(f.stateDir, file));
    }
    const upload = await f.dropNext();

    const status = f.cli('status');
    expect(status.status).toBe(1);
    expect(status.stdout).toContain(
      'DAMAGED: state/truststore.json went back to revision 1, but truststore version 000002 was published as revision 2',
    );
    const refused = f.cli('ingest');
    expect(refused.status).toBe(4);
    expect(refused.stderr).toMatch(/the store is damaged: state\/truststore\.json went back to revision 1/);
    expect(existsSync(upload)).toBe(true);
    expect(f.numbered(f.truststoreDir)).toEqual(['000001', '000002']);

    const repair = f.cli('repair');
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(
      /had gone back to revision 1 while the truststore carries revision 2: rebuilt revision 2 \(version 000002\)/,
    );
    expectIntact(f);
    expect(f.cli('ingest').status).toBe(0);
    const history = JSON.parse(f.cli('history', '--json').stdout) as {
      revision: number;
      version?: string;
      added: { subject: string; partner: string }[];
    }[];
    expect(history.map((h) => [h.revision, h.version])).toEqual([
      [3, '000003'],
      [2, '000002'],
      [1, '000001'],
    ]);
    expect(history[1]!.added.map((a) => a.partner)).toEqual(['unknown', 'unknown']);
    // Each truststore version carries a revision of its own: nothing was published twice.
    const revisions = f.numbered(f.truststoreDir).map(
      (v) =>
        (
          JSON.parse(readFileSync(join(f.truststoreDir, `${v}.meta.json`), 'utf8')) as {
            metadata: { revision: string };
          }
        ).metadata.revision,
    );
    expect(revisions).toEqual(['1', '2', '3']);
  });

  it('names a truncated truststore version as damage: not served, not diffed, and repair republishes it', async () => {
    const f = await damageFixture();
    truncateSync(join(f.truststoreDir, '000002'), 900);

    const status = f.cli('status');
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(
      /^DAMAGED: truststore version 000002 \(revision 2\) is not what was published: its content has SHA-256 [0-9a-f]{16}…, published as [0-9a-f]{16}… \(truncated or edited by hand\)/m,
    );
    const diff = f.cli('diff', '1', '2');
    expect(diff.status).toBe(4);
    expect(diff.stderr).toMatch(/truststore version 000002 \(revision 2\) is not what was published/);
    expect(f.cli('ingest').status).toBe(4);
    const up = spawnSync('node', [BIN, 'up', '--no-demo', '--port', '0'], {
      cwd: f.dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(up.status).toBe(4);
    expect(up.stderr).toMatch(/the store is damaged: truststore version 000002 .*not what was published/);

    const repair = f.cli('repair');
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(
      /revision 2: truststore version 000002 is not what was published: .*; marked as lost/,
    );
    expect(repair.stdout).toMatch(/served as truststore version 000003/);
    expectIntact(f);
    const after = f.cli('diff', '1', '000003');
    expect(after.status).toBe(0);
    expect(after.stdout).toMatch(/\+ CN=Beta Root CA,O=Beta/);
  });

  it('never gives a version id the history holds, even with the latest version and its high-water mark deleted', async () => {
    const f = await damageFixture();
    for (const file of ['000002', '000002.meta.json', '.highest']) rmSync(join(f.truststoreDir, file));
    const repair = f.cli('repair');
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(/revision 2: truststore version 000002 is missing; marked as lost/);
    expect(repair.stdout).toMatch(/served as truststore version 000003/);
    expect(f.numbered(f.truststoreDir)).toEqual(['000001', '000003']);
    const again = f.cli('repair');
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(
      'nothing to repair: the store is intact; truststore version 000003 serves the latest revision (2)\n',
    );
  });

  const edits: [string, (state: Record<string, unknown>) => void, string][] = [
    ['history deleted', (s) => delete s.history, 'history: expected a list, found nothing'],
    ['processed set to null', (s) => (s.processed = null), 'processed: expected an object, found null'],
    [
      'an entry set to null',
      (s) => ((s.entries as unknown[])[0] = null),
      'entries[0]: expected an object, found null',
    ],
    [
      'the revision as a string',
      (s) => (s.revision = '2'),
      'revision: expected a whole number of at least 0, found "2"',
    ],
    [
      "an entry's PEM replaced by another CA's",
      (s) => {
        const entries = s.entries as { pem: string }[];
        entries[0]!.pem = entries[1]!.pem;
      },
      "entries[0].pem: not the certificate of the entry's fingerprint",
    ],
  ];
  it.each(edits)(
    'names a state edited by hand that is still JSON (%s), writes nothing past it, and repair restores the newest valid one',
    async (_, edit, named) => {
      const f = await damageFixture();
      const latest = f.numbered(f.stateDir).at(-1)!;
      const file = join(f.stateDir, latest);
      const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      edit(state);
      writeFileSync(file, JSON.stringify(state, null, 1));
      const upload = await f.dropNext();

      const status = f.cli('status');
      expect(status.status).toBe(1);
      expect(status.stdout).toContain(
        `DAMAGED: state/truststore.json (version ${latest}) cannot be read: ${named}`,
      );
      const refused = f.cli('ingest');
      expect(refused.status).toBe(4);
      expect(refused.stderr).toContain(named);
      expect(refused.stderr).not.toMatch(/TypeError|unexpected failure/);
      expect(existsSync(upload)).toBe(true);
      expect(f.numbered(f.truststoreDir)).toEqual(['000001', '000002']);

      const repair = f.cli('repair');
      expect(repair.stderr).not.toMatch(/TypeError|unexpected failure/);
      expect(repair.status).toBe(0);
      expect(repair.stdout).toContain(`version ${latest} could not be read (${named}`);
      expectIntact(f);
      expect(f.cli('ingest').status).toBe(0);
      const history = JSON.parse(f.cli('history', '--json').stdout) as {
        revision: number;
        version?: string;
      }[];
      expect(history.map((h) => [h.revision, h.version])).toEqual([
        [3, '000003'],
        [2, '000002'],
        [1, '000001'],
      ]);
    },
  );
});

describe('principle 8: exactly once where promised', () => {
  it('writes each notification once to the outbox while two processes publish the same ones at the same time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-outbox-'));
    const outbox = join(dir, 'outbox.jsonl');
    const writer = (): Promise<number | null> =>
      new Promise((done) => {
        const child = spawn('npx', ['tsx', 'test/e2e/fixtures/outbox-writer.ts', outbox, '150'], {
          stdio: 'ignore',
        });
        child.on('exit', done);
      });
    expect(await Promise.all([writer(), writer(), writer()])).toEqual([0, 0, 0]);
    const ids = readFileSync(outbox, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).id as string);
    expect(ids).toHaveLength(150);
    expect(new Set(ids).size).toBe(150);
  });
});

describe('principle 9: names are data', () => {
  it('shows a name with line breaks, a direction override or a backslash as one escaped line, and judges it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-names-'));
    const inbox = join(dir, 'inbox', 'acme');
    mkdirSync(inbox, { recursive: true });
    const forged = 'ca.pem\n12:00:00 info  truststore rolled  domain=api.example.com';
    const reversed = 'invoice\u202efdp.pem';
    const backslash = 'a\\b.pem';
    for (const name of [forged, reversed, backslash]) writeFileSync(join(inbox, name), acme.root.pem);
    const r = spawnSync('node', [BIN, 'ingest'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const output = r.stdout + r.stderr;
    // No forged line, no raw override: each name is one line, escaped.
    expect(output.split('\n').some((l) => /^12:00:00 info {2}truststore rolled/.test(l))).toBe(false);
    expect(output).not.toContain('\u202e');
    expect(output).toContain('ca.pem\\n12:00:00 info');
    expect(output).toContain('invoice\\u202efdp.pem');
    expect(output).toMatch(/accepted +inbox\/acme\/a\\b\.pem/);
    // The reports and the outbox keep the names, escaped the same way a JSON reader can undo.
    for (const f of files(join(dir, '.trustroll')).filter((f) => /\.(json|jsonl)$/.test(f))) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toContain('\u202e');
    }
    expect(readdirSync(inbox)).toEqual([]);
  });
});
