import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, build, waitFor } from './helpers.js';

/** pki init → serve → probe, curl and diagnose, with the real binaries. */
let dir: string;
let server: ChildProcess;
let log = '';
let port: number;
const f = (name: string) => join(dir, name);
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir });
const curl = (who?: string) =>
  spawnSync(
    'curl',
    [
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      f('server-ca.pem'),
      ...(who ? ['--cert', f(`${who}.pem`), '--key', f(`${who}.key`)] : []),
      `https://localhost:${port}/`,
    ],
    { encoding: 'utf8' },
  );

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-debug-'));
  expect(cli('pki', 'init', dir).status).toBe(0);
  server = spawn(
    'node',
    [
      BIN,
      'serve',
      '--truststore',
      f('ca-bundle.pem'),
      '--cert',
      f('server.pem'),
      '--key',
      f('server.key'),
      '--port',
      '0',
    ],
    { cwd: dir },
  );
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
  port = await waitFor(
    () => Number(/serving https:\/\/localhost:(\d+)\//.exec(log)?.[1]) || undefined,
    30_000,
    () => log,
  );
});

afterAll(() => {
  server?.kill('SIGINT');
});

describe('trustroll pki init', () => {
  it('writes the PKI with a README, private keys readable by the owner only', () => {
    for (const file of [
      'ca-bundle.pem',
      'client.pem',
      'expired-client.pem',
      'unknown-ca-client.pem',
      'root-only-truststore.pem',
      'leaf-as-ca-bundle.pem',
      'sha1-ca.pem',
      'rsa1024-ca.pem',
      'README.md',
    ]) {
      expect(statSync(f(file)).size, file).toBeGreaterThan(0);
    }
    for (const key of ['client.key', 'expired-client.key', 'unknown-ca-client.key', 'server.key']) {
      expect(statSync(f(key)).mode & 0o777, key).toBe(0o600);
    }
    expect(readFileSync(f('README.md'), 'utf8')).toContain('trustroll diagnose --truststore');
    expect(cli('pki', 'init', dir).status).toBe(2);
  });

  it('makes the broken variants lint says they are', () => {
    const r = cli('lint', '--json', f('leaf-as-ca-bundle.pem'), f('sha1-ca.pem'), f('rsa1024-ca.pem'));
    const codes = JSON.parse(r.stdout).findings.map((x: { code: string }) => x.code);
    expect(codes).toEqual(expect.arrayContaining(['cert.not-ca', 'signature.weak-hash', 'key.too-weak']));
  });
});

describe('serve, probe, curl and diagnose agree on each client', () => {
  it('the good client: curl 200, probe explains acceptance, diagnose accepts', () => {
    const c = curl('client');
    expect(c.status).toBe(0);
    expect(JSON.parse(c.stdout).client.subject.CN).toBe('client.acme.example');
    const p = JSON.parse(
      cli(
        'probe',
        `localhost:${port}`,
        '--ca',
        f('server-ca.pem'),
        '--cert',
        f('client.pem'),
        '--key',
        f('client.key'),
        '--json',
      ).stdout,
    );
    expect(p).toMatchObject({
      handshake: 'completed',
      httpStatus: 200,
      clientCertSent: true,
      clientCertRequested: 'yes',
      serverTrusted: true,
    });
    // Names written as everywhere else in trustroll (RFC 4514), not in OpenSSL's "O = Acme, CN = …".
    expect(p.acceptableCas).toEqual(
      expect.arrayContaining(['CN=Acme Root CA,O=Acme', 'CN=Acme Issuing CA,O=Acme']),
    );
    expect(p.meaning).toMatch(/accepted the client certificate/);
    const d = cli(
      'diagnose',
      '--truststore',
      f('ca-bundle.pem'),
      '--cert',
      f('client.pem'),
      '--key',
      f('client.key'),
      '--json',
    );
    expect(d.status).toBe(0);
    expect(JSON.parse(d.stdout).verdict).toBe('accept');
  });

  it('the expired client: refused; probe says refused, diagnose says expired, the endpoint log says why', async () => {
    expect(curl('expired-client').status).not.toBe(0);
    const p = cli(
      'probe',
      `localhost:${port}`,
      '--ca',
      f('server-ca.pem'),
      '--cert',
      f('expired-client.pem'),
      '--key',
      f('expired-client.key'),
    );
    expect(p.status).toBe(1);
    expect(p.stdout).toMatch(/refused the client certificate/);
    const d = JSON.parse(
      cli('diagnose', '--truststore', f('ca-bundle.pem'), '--cert', f('expired-client.pem'), '--json').stdout,
    );
    expect(d.reasons[0].code).toBe('expired');
    await waitFor(
      () => /handshake refused {2}reason=expired/.test(log),
      5_000,
      () => log,
    );
  });

  it('the unknown-CA client: refused; diagnose says "Could not find issuer for certificate"', async () => {
    expect(curl('unknown-ca-client').status).not.toBe(0);
    const d = cli('diagnose', '--truststore', f('ca-bundle.pem'), '--cert', f('unknown-ca-client.pem'));
    expect(d.status).toBe(1);
    expect(d.stdout).toMatch(/Could not find issuer for certificate/);
    await waitFor(
      () => /handshake refused {2}reason=unknown issuer/.test(log),
      5_000,
      () => log,
    );
  });

  it('no client certificate: refused; probe sees "certificate required" and says what to pass', () => {
    expect(curl().status).not.toBe(0);
    const p = JSON.parse(cli('probe', `localhost:${port}`, '--ca', f('server-ca.pem'), '--json').stdout);
    expect(p.alert).toBe('certificate required');
    expect(p.meaning).toMatch(/requires a client certificate and none was sent/);
  });

  it('diagnose follows API Gateway on a root-only truststore with the intermediate sent by the client', () => {
    const d = cli(
      'diagnose',
      '--truststore',
      f('root-only-truststore.pem'),
      '--cert',
      f('client-chain.pem'),
      '--json',
    );
    expect(JSON.parse(d.stdout).reasons[0].code).toBe('intermediate-not-in-truststore');
    const plain = cli(
      'diagnose',
      '--plain-tls',
      '--truststore',
      f('root-only-truststore.pem'),
      '--cert',
      f('client-chain.pem'),
      '--json',
    );
    expect(JSON.parse(plain.stdout).verdict).toBe('accept');
  });

  it('diagnose refuses a key that does not belong to the certificate, without printing the key', () => {
    const d = cli(
      'diagnose',
      '--truststore',
      f('ca-bundle.pem'),
      '--cert',
      f('client.pem'),
      '--key',
      f('expired-client.key'),
      '--json',
    );
    expect(d.status).toBe(1);
    const json = JSON.parse(d.stdout);
    expect(Object.keys(json)).toEqual(['verdict', 'reasons', 'warnings', 'path']);
    expect(json.reasons.map((r: { code: string }) => r.code)).toEqual(['key.mismatch']);
    expect(json.path).toHaveLength(3);
    const keyLine = readFileSync(f('expired-client.key'), 'utf8').split('\n')[1]!;
    expect(d.stdout + d.stderr).not.toContain(keyLine);
  });

  it('serve reloads when the truststore file changes', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(f('ca-bundle.pem'), readFileSync(f('root-ca.pem')));
    await waitFor(
      () => /endpoint reloaded/.test(log),
      10_000,
      () => log,
    );
    expect(curl('client').status).not.toBe(0);
  });
});
