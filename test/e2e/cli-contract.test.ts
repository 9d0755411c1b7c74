import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { declaredExitStatuses } from '../../cli/exit-status.js';
import { buildProgram } from '../../cli/main.js';
import { BIN, build } from './helpers.js';

/**
 * The CLI's contract, with the real binary: every command answers `--help` (ending with its exit
 * statuses), refuses an unknown flag and a missing file in one sentence with exit 2, speaks JSON
 * under `--json` even when it refuses, never prints a stack trace, and exits only with a status
 * its `--help` (and the README's table, test/docs) declares.
 */
const program = buildProgram(
  { out: () => undefined, err: () => undefined, stdin: async () => new Uint8Array() },
  () => undefined,
);
const declared = declaredExitStatuses(program);
const leaves = (cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] =>
  cmd.commands.flatMap((c) =>
    c.commands.length > 0 ? leaves(c, [...prefix, c.name()]) : [{ path: [...prefix, c.name()], cmd: c }],
  );
const COMMANDS = leaves(program);
const offersJson = (cmd: Command) => cmd.options.some((o) => o.long === '--json');

let dir: string;
const cli = (args: readonly string[]) => {
  const r = spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
};
const STACK = /\n\s+at \S.*:\d+:\d+\)?|unexpected failure/;
const allowed = (command: string) => Object.keys(declared.get(command) ?? {}).map(Number);

/** A missing path for each command, where the command reads one: it must say so, exit 2. */
const MISSING: Record<string, readonly string[]> = {
  lint: ['missing.pem'],
  ingest: ['missing.pem'],
  scan: ['missing.pem'],
  diagnose: ['--truststore', 'missing.pem', '--cert', 'missing.pem'],
  probe: ['localhost:1', '--cert', 'missing.pem', '--key', 'missing.key'],
  serve: ['--truststore', 'missing.pem', '--port', '0'],
  remove: ['--request', 'missing.json', '--data-dir', 'store'],
  rollback: ['--data-dir', 'missing-dir'],
  history: ['--data-dir', 'missing-dir'],
  diff: ['1', '2', '--data-dir', 'missing-dir'],
  status: ['--data-dir', 'missing-dir'],
  promote: ['--from', 'missing-dir', '--to', 'store', '--yes'],
  export: ['--data-dir', 'missing-dir'],
  repair: ['--data-dir', 'missing-dir'],
  report: ['--data-dir', 'missing-dir'],
  'pki init': ['pki/ca-bundle.pem/sub'],
  revoke: ['--cert', 'missing.pem', '--reason', 'test', '--data-dir', 'store'],
  unrevoke: ['--cert', 'missing.pem', '--data-dir', 'store'],
  rules: ['--partner', 'acme', '--pin-cert', 'missing.pem', '--data-dir', 'store'],
  authorize: ['--cert', 'missing.pem', '--data-dir', 'store'],
  refusals: ['--log-file', 'missing.log', '--data-dir', 'store'],
  up: ['--inbox', 'pki/ca-bundle.pem', '--data-dir', 'up-store', '--port', '0', '--no-demo'],
};

beforeAll(() => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-contract-'));
  expect(cli(['pki', 'init', 'pki']).status).toBe(0);
  mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
  copyFileSync(join(dir, 'pki', 'ca-bundle.pem'), join(dir, 'inbox', 'acme', 'bundle.pem'));
  const first = cli(['ingest', '--data-dir', 'store']);
  expect(first.status, first.err).toBe(0);
}, 120_000);

describe('every command', () => {
  it('is covered: each leaf command has declared statuses and a missing-path case', () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(16);
    for (const { path } of COMMANDS) {
      expect(declared.has(path.join(' ')), path.join(' ')).toBe(true);
      expect(MISSING[path.join(' ')], path.join(' ')).toBeDefined();
    }
  });

  describe.each(COMMANDS.map((c) => [c.path.join(' '), c] as const))('%s', (name, { path }) => {
    it('--help: exit 0, its exit statuses listed, defaults written plainly', () => {
      const r = cli([...path, '--help']);
      expect(r.status).toBe(0);
      expect(r.out).toMatch(/Exit status:\n( {2}[0-5] {2}.+\n)+/);
      for (const code of allowed(name)) expect(r.out).toMatch(new RegExp(`\\n  ${code}  \\S`));
      expect(r.out).not.toMatch(/default: ["[]/);
    }, 60_000);

    it('an unknown flag: exit 2, says which flag, no stack trace', () => {
      const r = cli([...path, '--no-such-flag']);
      expect(r.status).toBe(2);
      // A command with a required option names that first; either way, one line saying what to fix.
      expect(r.err).toMatch(
        /unknown option '--no-such-flag'|required option '--[a-z-]+ <\w+>' not specified/,
      );
      expect(r.err).not.toMatch(STACK);
    }, 60_000);

    it('a missing path: exit 2 naming it, no stack trace', () => {
      const r = cli([...path, ...MISSING[name]!]);
      expect(r.err).not.toMatch(STACK);
      expect(r.status, r.err).toBe(2);
      expect(r.err).toMatch(/missing|store|a part of that path is a file|is a file, not a folder/);
      expect(r.err.trim().split('\n').length, r.err).toBeLessThanOrEqual(3);
    }, 60_000);
  });
});

describe.each(COMMANDS.filter((c) => offersJson(c.cmd)).map((c) => [c.path.join(' '), c.path] as const))(
  '%s --json',
  (name, path) => {
    it('a refusal is JSON on stdout too, status 2, no stack trace', () => {
      const r = cli([...path, ...MISSING[name]!, '--json']);
      expect(r.status).toBe(2);
      expect(JSON.parse(r.out)).toMatchObject({ error: expect.any(String), status: 2 });
      expect(r.err).not.toMatch(STACK);
    }, 60_000);
  },
);

describe('documented statuses in action', () => {
  it('ingest exits 1 when an upload was rejected, 0 when all were accepted', () => {
    copyFileSync(join(dir, 'pki', 'leaf-as-ca-bundle.pem'), join(dir, 'inbox', 'acme', 'leaf.pem'));
    const rejected = cli(['ingest', '--data-dir', 'store']);
    expect(rejected.out).toMatch(/rejected\s+inbox\/acme\/leaf\.pem/);
    expect(rejected.status).toBe(1);
    expect(allowed('ingest')).toContain(1);
    copyFileSync(join(dir, 'pki', 'intermediate-ca.pem'), join(dir, 'inbox', 'acme', 'again.pem'));
    expect(cli(['ingest', '--data-dir', 'store']).status).toBe(0);
  }, 60_000);

  it('history and diff do not offer --inbox or --domain (they read no inbox and roll nothing)', () => {
    for (const command of ['history', 'diff']) {
      for (const flag of ['--inbox', '--domain']) {
        const r = cli([command, ...(command === 'diff' ? ['1', '1'] : []), flag, 'x', '--data-dir', 'store']);
        expect(r.status, `${command} ${flag}`).toBe(2);
        expect(r.err).toContain(`unknown option '${flag}'`);
      }
    }
    expect(cli(['history', '--data-dir', 'store']).status).toBe(0);
  }, 60_000);
});
