import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Issued, intermediate, leaf, root } from '../../shared/pki/builder.js';
import { BIN, build } from './helpers.js';

/**
 * Names are data, on every command: an upload's file name, a CA's subject, a removal's reason and
 * requester may carry line breaks, escape sequences and direction overrides. No output may carry
 * them raw (a forged line, a hidden or recoloured terminal, reordered text), and each must still be
 * shown, escaped, so the operator can recognise what came in.
 */

/** A line break (a forged line), ESC (terminal control) and U+202E (right-to-left override). */
const FORGED = 'revision 99  version 000099  all CAs revoked';
const FILE_NAME = `root.pem\n${FORGED}\u001b[31m`;
const CN = `Evil Root\n${FORGED}\u001b[8m\u202eAC`;
const REASON = `contract ended\n${FORGED}\u001b[2J\u202e`;

/** Anything but the line feeds an output is made of: C0/C1 controls, DEL, separators, bidi marks. */
const RAW =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** How each hostile text reads once escaped. */
const escapedName = `root.pem\\n${FORGED}\\u001b[31m`;
const escapedCn = `Evil Root\\n${FORGED}\\u001b[8m\\u202eAC`;
const escapedReason = `contract ended\\n${FORGED}\\u001b[2J\\u202e`;

let dir: string;
let evil: Issued;
let evilChild: Issued;
let evilClient: Issued;
const cli = (...args: string[]) => {
  const r = spawnSync('node', [BIN, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}${r.stderr}` };
};
/** The output has no raw control character, and no line of it was forged by a name. */
const clean = (what: string, output: string) => {
  expect(RAW.exec(output)?.[0], `${what}: a raw control character`).toBeUndefined();
  expect(
    output.split('\n').filter((l) => l.startsWith(FORGED)),
    `${what}: a forged line`,
  ).toEqual([]);
  expect(output, `${what}: a stack trace`).not.toMatch(/unexpected failure|at .*\.m?js:\d+/);
};

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-names-out-'));
  evil = await root('', { subject: [{ O: ['Evil'] }, { CN: [CN] }] });
  evilChild = await intermediate('CN=Evil Issuing,O=Evil', evil);
  evilClient = await leaf('', evil, { subject: [{ CN: [`client\n${FORGED}\u202e`] }] });
  const plain = await root('CN=Plain Root,O=Plain');
  mkdirSync(join(dir, 'inbox', 'plain'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'plain', 'ca.pem'), plain.pem);
  expect(cli('ingest').status).toBe(0);
});

describe('every command shows hostile names, subjects and reasons escaped', () => {
  it('ingest, ingest --json, history, history --json, diff, scan, lint, remove and status', async () => {
    mkdirSync(join(dir, 'inbox', 'evil'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'evil', FILE_NAME), evil.pem);
    expect(readdirSync(join(dir, 'inbox', 'evil'))).toEqual([FILE_NAME]);

    const ingest = cli('ingest', '--json');
    expect(ingest.status).toBe(0);
    clean('ingest --json', ingest.all);
    const report = JSON.parse(ingest.out) as { uploads: { key: string; outcome: string }[] };
    // JSON keeps the exact name for programs; only its encoding is escaped.
    expect(report.uploads).toMatchObject([{ key: `inbox/evil/${FILE_NAME}`, outcome: 'accepted' }]);
    expect(ingest.out).toContain('\\u001b[31m');
    expect(ingest.err).toContain(`upload accepted: evil/${escapedName}`);

    const scan = cli('scan');
    clean('scan', scan.all);
    expect(scan.out).toMatch(new RegExp(`evil +CN=${escapedCn.replace(/[\\[]/g, '\\$&')},O=Evil`));

    const lintDir = join(dir, 'lint');
    mkdirSync(lintDir);
    writeFileSync(join(lintDir, 'child.pem'), evilChild.pem);
    writeFileSync(join(lintDir, `junk\n${FORGED}\u202e.pem`), 'not a certificate');
    const linted = cli('lint', lintDir);
    expect(linted.status).toBe(1);
    clean('lint', linted.all);
    // A message naming a subject (the missing issuer), and a per-input title (a file name).
    expect(linted.out).toContain(`Its issuer "CN=${escapedCn},O=Evil" is not in the truststore`);
    expect(linted.out).toContain(`input ${join(lintDir, `junk\\n${FORGED}\\u202e.pem`)}`);
    // The per-certificate title: its subject.
    writeFileSync(join(dir, 'evil-root.pem'), evil.pem);
    const expiring = cli('lint', '--expiring-days', '5000', 'evil-root.pem');
    clean('lint (a warning)', expiring.all);
    expect(expiring.out).toContain(`CN=${escapedCn},O=Evil  [sha256 `);
    const lintJson = cli('lint', '--json', lintDir, 'evil-root.pem');
    clean('lint --json', lintJson.all);
    expect(JSON.parse(lintJson.out).certificates.map((c: { subject: string }) => c.subject)).toContain(
      `CN=${CN},O=Evil`,
    );
    // A usage error names the input it could not read, escaped.
    const missing = cli('lint', `missing\n${FORGED}\u202e.pem`);
    expect(missing.status).toBe(2);
    clean('lint (unreadable input)', missing.all);
    expect(missing.err).toContain(`cannot read missing\\n${FORGED}\\u202e.pem`);

    // diagnose names the client and its path by subject.
    writeFileSync(join(dir, 'client.pem'), evilClient.pem);
    const diagnose = cli('diagnose', '--truststore', 'evil-root.pem', '--cert', 'client.pem');
    clean('diagnose', diagnose.all);
    expect(diagnose.out).toContain(`path: CN=client\\n${FORGED}\\u202e  <-  CN=${escapedCn},O=Evil`);
    clean(
      'diagnose --json',
      cli('diagnose', '--json', '--truststore', 'evil-root.pem', '--cert', 'client.pem').all,
    );

    const remove = cli(
      'remove',
      '--partner',
      'evil',
      '--reason',
      REASON,
      '--requested-by',
      `ops\u202e\u001b[31m`,
    );
    expect(remove.status, remove.all).toBe(0);
    clean('remove', remove.all);
    expect(remove.out).toContain(`  - CN=${escapedCn},O=Evil (partner evil, sha256 `);
    const refused = cli('remove', '--subject', `CN=nobody\n${FORGED}\u202e`, '--reason', REASON);
    expect(refused.status).toBe(1);
    clean('remove (refused)', refused.all);
    expect(refused.out).toContain('CN=nobody\\n');

    const history = cli('history');
    expect(history.status).toBe(0);
    clean('history', history.all);
    expect(history.out).toContain(`uploads inbox/evil/${escapedName}`);
    expect(history.out).toContain(`    + CN=${escapedCn},O=Evil (evil)`);
    expect(history.out).toContain(`    - CN=${escapedCn},O=Evil (evil)`);
    expect(history.out).toContain(`removal requested by ops\\u202e\\u001b[31m: ${escapedReason}`);

    const historyJson = cli('history', '--json');
    clean('history --json', historyJson.all);
    const lines = JSON.parse(historyJson.out) as {
      revision: number;
      reason: string;
      added: { subject: string }[];
    }[];
    expect(lines.map((l) => l.revision)).toEqual([3, 2, 1]);
    expect(lines[0]!.reason).toBe(`removal requested by ops\u202e\u001b[31m: ${REASON}`);
    expect(lines[1]!.added.map((a) => a.subject)).toEqual([`CN=${CN},O=Evil`]);
    expect(historyJson.out).toContain('\\u202e');

    for (const [a, b, sign] of [
      ['1', '2', '+'],
      ['2', '3', '-'],
    ] as const) {
      const diff = cli('diff', a, b);
      expect(diff.status).toBe(0);
      clean(`diff ${a} ${b}`, diff.all);
      expect(diff.out).toContain(`  ${sign} CN=${escapedCn},O=Evil (partner evil, expires `);
      clean(`diff --json ${a} ${b}`, cli('diff', '--json', a, b).all);
    }

    // trustroll up never ran here: status says so, and stays clean.
    const status = cli('status');
    expect(status.status).toBe(1);
    clean('status', status.all);
    expect(status.out).toMatch(/latest truststore version 000003 \(revision 3\)/);
    clean('status --json', cli('status', '--json').all);
  });
});
