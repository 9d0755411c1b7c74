import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintInputs } from '../../../shared/truststore/lint.js';
import {
  type Issued,
  intermediate,
  leaf,
  partnerChain,
  pemOf,
  privateKeyObject,
  root,
  toBytes,
} from '../../fixtures/pki.js';

/**
 * Cross-check with a real TLS stack: what lint passes, a Node TLS server using the rendered
 * truststore as its CA list accepts; what lint flags as chain.issuer-missing, it refuses.
 * The clock is real here (TLS checks validity against now), so fixtures are valid around now.
 */
const keyPem = (i: Issued) => privateKeyObject(i).export({ type: 'pkcs8', format: 'pem' }) as string;
const now = new Date();
const valid = {
  notBefore: new Date(now.getTime() - 86_400_000),
  notAfter: new Date(now.getTime() + 365 * 86_400_000),
};

let server: Issued;
beforeAll(async () => {
  const serverCa = await root('CN=Server CA', valid);
  server = await leaf('CN=localhost', serverCa, { ...valid, eku: ['1.3.6.1.5.5.7.3.1'] });
});

const handshake = async (truststore: string, client: Issued, sendChain: Issued[] = []): Promise<string> => {
  const srv = tls.createServer({
    key: keyPem(server),
    cert: server.pem,
    ca: truststore,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  const verdict = new Promise<string>((resolve) => {
    srv.on('secureConnection', (socket) => {
      resolve('accepted');
      socket.end();
    });
    srv.on('tlsClientError', (error) => resolve(`rejected: ${error.message}`));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const socket = tls.connect({
    port: (srv.address() as AddressInfo).port,
    host: '127.0.0.1',
    key: keyPem(client),
    cert: [client.pem, ...sendChain.map((c) => c.pem)].join('\n'),
    rejectUnauthorized: false,
  });
  socket.on('error', () => {});
  const result = await verdict;
  socket.destroy();
  srv.close();
  return result;
};

const partners: { name: string; cas: Issued[]; client: Issued }[] = [];
afterAll(() => {
  partners.length = 0;
});

describe('lint agrees with a real TLS server', () => {
  beforeAll(async () => {
    for (const [name, key] of [
      ['Rsa', 'rsa2048'],
      ['Ecp', 'p256'],
      ['Big', 'p384'],
    ] as const) {
      const chain = await partnerChain(name, { key, ...valid });
      const client = await leaf(`CN=client.${name}`, chain.intermediate, valid);
      partners.push({ name, cas: [chain.root, chain.intermediate], client });
    }
    const deepRoot = await root('CN=Deep Root', valid);
    const d1 = await intermediate('CN=Deep Policy CA', deepRoot, { ...valid, pathLen: 1 });
    const d2 = await intermediate('CN=Deep Issuing CA', d1, valid);
    partners.push({ name: 'Deep', cas: [deepRoot, d1, d2], client: await leaf('CN=client.deep', d2, valid) });
    const direct = await root('CN=Direct Root', valid);
    partners.push({ name: 'Direct', cas: [direct], client: await leaf('CN=client.direct', direct, valid) });
  });

  it('accepts a client of every chain in a truststore that lint passes', async () => {
    const result = lintInputs([
      { name: 'all.pem', bytes: toBytes(pemOf(...partners.flatMap((p) => p.cas))) },
    ]);
    expect(result.findings).toEqual([]);
    for (const p of partners) expect(await handshake(result.rendered, p.client), p.name).toBe('accepted');
  });

  it('refuses the client of a chain that lint flags with chain.issuer-missing, even when the client sends the intermediate', async () => {
    const [rsa, ecp] = partners;
    // Ecp's root is left out: only its intermediate is in the truststore.
    const result = lintInputs([{ name: 'partial.pem', bytes: toBytes(pemOf(...rsa!.cas, ecp!.cas[1]!)) }]);
    const missing = result.findings.filter((f) => f.code === 'chain.issuer-missing');
    expect(missing.map((f) => f.cert?.subject)).toEqual(['CN=Ecp Issuing CA,O=Ecp']);
    expect(await handshake(result.rendered, rsa!.client)).toBe('accepted');
    expect(await handshake(result.rendered, ecp!.client)).toMatch(/^rejected/);
    expect(await handshake(result.rendered, ecp!.client, [ecp!.cas[1]!])).toMatch(/^rejected/);
  });
});

/** `openssl verify` of a client against a truststore, as a TLS server would (-purpose sslclient). */
const opensslVerify = (truststore: string, client: Issued): { ok: boolean; output: string } => {
  const dir = mkdtempSync(join(tmpdir(), 'crosscheck-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), truststore);
    writeFileSync(join(dir, 'client.pem'), `${client.pem}\n`);
    const run = spawnSync(
      'openssl',
      ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), join(dir, 'client.pem')],
      { encoding: 'utf8' },
    );
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('chain.path-length agrees with OpenSSL', () => {
  it('flags the sub-CA whose clients OpenSSL refuses for the path length, and passes the CA within the limit', async () => {
    const r = await root('CN=PL Root', valid);
    const capped = await intermediate('CN=PL Capped', r, { ...valid, pathLen: 0 });
    const sub = await intermediate('CN=PL Sub', capped, { ...valid, pathLen: undefined });
    const result = lintInputs([{ name: 'pl.pem', bytes: toBytes(pemOf(r, capped, sub)) }]);
    expect(result.findings.map((f) => [f.code, f.cert?.subject])).toEqual([
      ['chain.path-length', 'CN=PL Sub'],
    ]);

    const underSub = await leaf('CN=client.pl-sub', sub, valid);
    const verdict = opensslVerify(result.rendered, underSub);
    expect(verdict.ok).toBe(false);
    expect(verdict.output).toMatch(/path length constraint exceeded/);
    expect(await handshake(result.rendered, underSub)).toMatch(/^rejected/);

    const underCapped = await leaf('CN=client.pl-capped', capped, valid);
    expect(opensslVerify(result.rendered, underCapped).ok).toBe(true);
    expect(await handshake(result.rendered, underCapped)).toBe('accepted');
  });

  it('passes, as OpenSSL does, a CA that is at the limit only because a self-issued CA above it is not counted', async () => {
    const r = await root('CN=PLSI Root', valid);
    const old = await intermediate('CN=PLSI Int', r, { ...valid, pathLen: 1 });
    const rollover = await intermediate('CN=PLSI Int', old, {
      ...valid,
      keySlot: 'rollover',
      pathLen: undefined,
    });
    const sub = await intermediate('CN=PLSI Sub', rollover, { ...valid, pathLen: undefined });
    const result = lintInputs([{ name: 'plsi.pem', bytes: toBytes(pemOf(r, old, rollover, sub)) }]);
    expect(result.findings.filter((f) => f.code === 'chain.path-length')).toEqual([]);
    expect(opensslVerify(result.rendered, await leaf('CN=client.plsi', sub, valid))).toMatchObject({
      ok: true,
    });
  });
});
