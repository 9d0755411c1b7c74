import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, build } from './helpers.js';

/** probe checks its arguments before it connects, and says which one is wrong (exit 2). */
let dir: string;
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir });

beforeAll(() => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-probe-args-'));
  expect(cli('pki', 'init', dir).status).toBe(0);
}, 120_000);

describe('trustroll probe validates its arguments first', () => {
  it.each([
    ['localhost:99999', /port .*1 to 65535.*99999/],
    ['localhost:0', /port .*1 to 65535/],
    ['localhost', /not host:port/],
  ])(
    'refuses the target %s as a usage error, without blaming the client certificate',
    (target, message) => {
      const r = cli('probe', target, '--cert', 'client.pem', '--key', 'client.key');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout + r.stderr).not.toMatch(/could not be loaded/);
    },
    60_000,
  );

  it('names the key that does not belong to the certificate, and connects nowhere', () => {
    const r = cli('probe', 'localhost:1', '--cert', 'client.pem', '--key', 'expired-client.key');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--key expired-client\.key does not belong to the certificate in --cert client\.pem/,
    );
    expect(r.stdout).not.toMatch(/client cert: +sent/);
  }, 60_000);

  it('names a --cert file that holds no certificate and a --ca that holds none', () => {
    const cert = cli('probe', 'localhost:1', '--cert', 'client.key', '--key', 'client.key');
    expect(cert.status).toBe(2);
    expect(cert.stderr).toMatch(/--cert client\.key holds no readable certificate/);
    const ca = cli('probe', 'localhost:1', '--ca', 'README.md');
    expect(ca.status).toBe(2);
    expect(ca.stderr).toMatch(/--ca README\.md holds no certificate/);
  }, 60_000);

  it('reports a usage error as JSON under --json', () => {
    const r = cli('probe', 'localhost:99999', '--json');
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatch(/99999/);
  }, 60_000);
});
