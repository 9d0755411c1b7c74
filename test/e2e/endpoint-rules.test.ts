import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaf, privateKeyPem, root } from '../fixtures/pki.js';
import { BIN, build, outbox, startUp, waitFor } from './helpers.js';

/**
 * The endpoint that plays the custom domain applies API Gateway's rule, with the reason code
 * `trustroll diagnose` gives; `--plain-tls` keeps what a plain OpenSSL server accepts.
 */
let dir: string;
const f = (name: string) => join(dir, name);
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir });
const servers: ChildProcess[] = [];

const serve = async (truststore: string, extra: string[] = []) => {
  const child = spawn(
    'node',
    [BIN, 'serve', '--truststore', truststore, '--cert', f('server.pem'), '--key', f('server.key')].concat([
      '--port',
      '0',
      ...extra,
    ]),
    { cwd: dir },
  );
  servers.push(child);
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const port = await waitFor(
    () => Number(/serving https:\/\/localhost:(\d+)\//.exec(log)?.[1]) || undefined,
    60_000,
    () => log,
  );
  return { port, log: () => log };
};

const curl = (port: number, cert: string, key: string) =>
  spawnSync(
    'curl',
    ['-sS', '--max-time', '20', '--cacert', f('server-ca.pem'), '--cert', cert, '--key', key].concat([
      '-w',
      '\n%{http_code}',
      `https://localhost:${port}/`,
    ]),
    { encoding: 'utf8' },
  );

beforeAll(() => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-rules-'));
  expect(cli('pki', 'init', dir).status).toBe(0);
}, 120_000);

afterAll(() => {
  for (const s of servers) s.kill('SIGINT');
});

describe('the local endpoint judges clients as API Gateway and diagnose do', () => {
  it("refuses with 403 and diagnose's reason a client whose intermediate only the client sends (root-only truststore)", async () => {
    const d = cli(
      'diagnose',
      '--truststore',
      f('root-only-truststore.pem'),
      '--cert',
      f('client-chain.pem'),
      '--json',
    );
    expect(JSON.parse(d.stdout).reasons[0].code).toBe('intermediate-not-in-truststore');
    const s = await serve(f('root-only-truststore.pem'));
    const c = curl(s.port, f('client-chain.pem'), f('client.key'));
    expect(c.status).toBe(0);
    expect(c.stdout.trim().split('\n').at(-1)).toBe('403');
    expect(c.stdout).toContain('"reason": "intermediate-not-in-truststore"');
    await waitFor(() => /request refused .*code=intermediate-not-in-truststore/.test(s.log()), 30_000, s.log);
  }, 120_000);

  it('accepts the same client with --plain-tls, as a plain OpenSSL server would', async () => {
    const d = cli(
      'diagnose',
      '--plain-tls',
      '--truststore',
      f('root-only-truststore.pem'),
      '--cert',
      f('client-chain.pem'),
      '--json',
    );
    expect(JSON.parse(d.stdout).verdict).toBe('accept');
    const s = await serve(f('root-only-truststore.pem'), ['--plain-tls']);
    const c = curl(s.port, f('client-chain.pem'), f('client.key'));
    expect(c.status).toBe(0);
    expect(c.stdout.trim().split('\n').at(-1)).toBe('200');
  }, 120_000);

  it('refuses a SHA-1-signed client with the reason diagnose gives, not "socket hang up"', async () => {
    const now = new Date();
    const ca = await root('CN=Legacy Root,O=Legacy', { now });
    const client = await leaf('CN=sha1-client,O=Legacy', ca, { now, hash: 'SHA-1' });
    writeFileSync(f('legacy-root.pem'), ca.pem);
    writeFileSync(f('sha1-client.pem'), client.pem);
    writeFileSync(f('sha1-client.key'), privateKeyPem(client), { mode: 0o600 });
    const d = cli('diagnose', '--truststore', f('legacy-root.pem'), '--cert', f('sha1-client.pem'), '--json');
    expect(JSON.parse(d.stdout).reasons[0].code).toBe('insecure-signature');
    const s = await serve(f('legacy-root.pem'));
    // curl refuses to send a SHA-1 certificate at all; openssl at security level 0 sends it.
    const r = spawnSync(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${s.port}`, '-servername', 'localhost', '-ign_eof'].concat([
        '-cipher',
        'DEFAULT@SECLEVEL=0',
        '-cert',
        f('sha1-client.pem'),
        '-key',
        f('sha1-client.key'),
      ]),
      { input: 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n', encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout).toMatch(/HTTP\/1\.[01] 403/);
    expect(r.stdout).toContain('"reason": "insecure-signature"');
    await waitFor(() => /request refused .*code=insecure-signature/.test(s.log()), 30_000, s.log);
    expect(s.log()).not.toMatch(/socket hang up/);
  }, 120_000);

  it.each([
    ['refuses with 403', [], '403'],
    ['with --plain-tls accepts', ['--plain-tls'], '200'],
  ])(
    'up %s a client sending its intermediate when only the root was uploaded',
    async (_, extra, code) => {
      const cwd = mkdtempSync(join(tmpdir(), 'trustroll-rules-up-'));
      mkdirSync(join(cwd, 'inbox', 'acme'), { recursive: true });
      const up = await startUp(cwd, ['--no-demo', ...extra]);
      try {
        copyFileSync(f('root-ca.pem'), join(cwd, 'inbox', 'acme', 'root-ca.pem'));
        await waitFor(
          () => outbox(join(cwd, '.trustroll')).some((n) => n.eventType === 'truststore.rolled') || undefined,
          60_000,
          up.output,
        );
        const c = spawnSync(
          'curl',
          ['-sS', '--max-time', '20', '--cacert', join(cwd, '.trustroll', 'endpoint', 'ca.pem')]
            .concat(['--cert', f('client-chain.pem'), '--key', f('client.key'), '-w', '\n%{http_code}'])
            .concat([`https://localhost:${up.port}/`]),
          { encoding: 'utf8' },
        );
        expect(c.stdout.trim().split('\n').at(-1), c.stderr).toBe(code);
        if (code === '403') {
          expect(c.stdout).toContain('"reason": "intermediate-not-in-truststore"');
          await waitFor(
            () => /request refused .*code=intermediate-not-in-truststore/.test(up.output()),
            30_000,
            up.output,
          );
          // The refusal is in the endpoint's access log, in the format API Gateway writes, and
          // trustroll refusals explains it as it would a domain's: the issuing CA is missing.
          const logFile = join(cwd, '.trustroll', 'endpoint', 'refusals.log');
          const explained = spawnSync('node', [BIN, 'refusals', '--log-file', logFile, '--json'], {
            encoding: 'utf8',
            cwd,
          });
          expect(explained.status, explained.stderr).toBe(1);
          const out = JSON.parse(explained.stdout);
          expect(out.refusals).toHaveLength(1);
          expect(out.refusals[0]).toMatchObject({ code: 'issuer-unknown', domainName: 'localhost' });
          expect(out.refusals[0].message).toMatch(/Add that CA to the truststore/);
        }
      } finally {
        await up.stop();
      }
    },
    180_000,
  );
});
