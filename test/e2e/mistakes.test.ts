import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, build } from './helpers.js';

/**
 * Ordinary mistakes, made with the real binary: each ends in one sentence saying what is wrong and
 * what to do, exit status 2 (usage), never a stack trace or "unexpected failure".
 */
let dir: string;
let taken: Server;
let takenPort: number;

const cli = (...args: string[]) =>
  spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });

const refusedPlainly = (r: ReturnType<typeof cli>, message: RegExp) => {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/unexpected failure|\n\s+at |Error:/);
  expect(r.status).toBe(2);
};

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-mistakes-'));
  taken = createServer();
  taken.listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  takenPort = (taken.address() as { port: number }).port;
  const init = cli('pki', 'init', 'pki');
  expect(init.status, init.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  taken.close();
});

describe('a port that is already taken', () => {
  it('serve says so and how to pick another', () => {
    const r = cli('serve', '--truststore', 'pki/ca-bundle.pem', '--port', String(takenPort));
    refusedPlainly(r, new RegExp(`port ${takenPort} on 127\\.0\\.0\\.1 is already in use.*--port`));
  }, 60_000);

  it('a second trustroll up (npm start) says so, and the store it opened is left usable', () => {
    const r = cli('up', '--no-demo', '--port', String(takenPort), '--data-dir', 'second');
    refusedPlainly(r, /is already in use \(is another trustroll up or serve running\?\)/);
    const status = cli('history', '--data-dir', 'second');
    expect(status.stderr).not.toMatch(/unexpected failure/);
  }, 60_000);
});

describe('files and folders the other way round', () => {
  it('serve --truststore <folder> names the folder and what to pass instead', () => {
    const r = cli('serve', '--truststore', 'pki', '--port', '0');
    refusedPlainly(r, /--truststore wants a file, and pki is a folder.*ca-bundle\.pem/);
  }, 60_000);

  it('serve --truststore <missing> says no such file', () => {
    refusedPlainly(
      cli('serve', '--truststore', 'nope.pem', '--port', '0'),
      /--truststore nope\.pem: no such file/,
    );
  }, 60_000);

  it('pki init <file> says the path is a file', () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    refusedPlainly(cli('pki', 'init', 'a-file'), /a-file is a file, not a folder/);
  }, 60_000);

  it('pki init <file>/<sub> says a part of the path is a file', () => {
    mkdirSync(join(dir, 'parent'), { recursive: true });
    writeFileSync(join(dir, 'parent', 'f'), 'x');
    refusedPlainly(
      cli('pki', 'init', 'parent/f/sub'),
      /cannot create parent\/f\/sub: a part of that path is a file/,
    );
  }, 60_000);
});

describe('validity that cannot be', () => {
  it.each([['0'], ['-5'], ['36501']])(
    'pki init --days %s is refused',
    (days) => {
      refusedPlainly(cli('pki', 'init', `days-${days}`, `--days=${days}`), /--days wants a whole number/);
    },
    60_000,
  );

  it('pki init with clients outliving their CAs is refused', () => {
    refusedPlainly(
      cli('pki', 'init', 'outlive', '--days', '400', '--ca-days', '300'),
      /--days 400 outlives the CAs \(--ca-days 300\)/,
    );
  }, 60_000);
});
