import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CertSpec,
  type Issued,
  intermediate,
  issue,
  leaf,
  pemOf,
  privateKeyPem,
  root,
} from '../../shared/pki/builder.js';
import { parseCertificate } from '../../shared/pki/certificate.js';
import { verifyClient } from '../../shared/pki/verify.js';

/**
 * diagnose agrees with a real handshake: each situation goes through a Node TLS server (client
 * certificate required, the truststore as its CA list), through `openssl verify -purpose
 * sslclient`, and through diagnose. One documented exception: a root-only truststore with the
 * intermediate sent by the client — TLS servers accept, API Gateway refuses, diagnose follows
 * API Gateway.
 */
const now = Date.now();
const at = (days: number) => new Date(now + days * 86_400_000);
const valid: Partial<CertSpec> = { notBefore: at(-1), notAfter: at(300), now: new Date(now) };

interface Situation {
  readonly name: string;
  readonly truststore: Issued[];
  readonly client: Issued;
  readonly sends?: Issued[];
  /** TLS/OpenSSL accept but API Gateway refuses. */
  readonly apiGatewayOnly?: true;
}

let server: Issued;
const situations: Situation[] = [];

beforeAll(async () => {
  const serverCa = await root('CN=Matrix Server CA', valid);
  server = await leaf('CN=localhost', serverCa, { ...valid, eku: ['1.3.6.1.5.5.7.3.1'] });
  const r = await root('CN=Matrix Root,O=M', valid);
  const i = await intermediate('CN=Matrix Issuing,O=M', r, valid);
  const c = await leaf('CN=client,O=M', i, valid);
  const other = await root('CN=Other Root,O=X', valid);
  const otherClient = await leaf('CN=stranger,O=X', other, valid);
  const rsaRoot = await root('CN=RSA Root,O=R', { ...valid, key: 'rsa2048' });
  const rsaInt = await intermediate('CN=RSA Issuing,O=R', rsaRoot, { ...valid, key: 'rsa2048' });
  const p384 = await root('CN=P384 Root,O=P', { ...valid, key: 'p384' });
  const expiredInt = await intermediate('CN=Expired Issuing,O=M', r, {
    notBefore: at(-100),
    notAfter: at(-1),
    now: new Date(now),
  });
  const expiredRoot = await root('CN=Expired Root,O=E', {
    notBefore: at(-100),
    notAfter: at(-1),
    now: new Date(now),
  });
  const pathLen0 = await intermediate('CN=PathLen0,O=M', r, { ...valid, pathLen: 0 });
  const below = await intermediate('CN=Below PathLen0,O=M', pathLen0, { ...valid, pathLen: 0 });
  const notCa = await intermediate('CN=Not a CA,O=M', r, { ...valid, ca: false, keyUsage: 96 });
  const noCertSign = await intermediate('CN=No CertSign,O=M', r, { ...valid, keyUsage: 64 /* cRLSign */ });
  const impostor = await root('CN=Matrix Root,O=M', { ...valid, keySlot: 'impostor' });
  const sha1Root = await root('CN=SHA1 Root,O=S', { ...valid, key: 'rsa2048' });
  const sha1Client = await leaf('CN=sha1 client,O=S', sha1Root, { ...valid, key: 'rsa2048', hash: 'SHA-1' });
  const selfSigned = await issue({ subject: 'CN=self,O=Z', ca: false, eku: ['1.3.6.1.5.5.7.3.2'], ...valid });
  const add = (s: Situation) => situations.push(s);

  add({
    name: 'complete chain in the truststore, client sends its certificate only',
    truststore: [r, i],
    client: c,
  });
  add({
    name: 'complete chain in the truststore, client also sends the intermediate',
    truststore: [r, i],
    client: c,
    sends: [i],
  });
  add({
    name: 'root-only truststore, client sends the intermediate (API Gateway refuses)',
    truststore: [r],
    client: c,
    sends: [i],
    apiGatewayOnly: true,
  });
  add({ name: 'root-only truststore, client sends nothing else', truststore: [r], client: c });
  add({ name: 'intermediate-only truststore (no root)', truststore: [i], client: c });
  add({ name: 'client from an unknown CA', truststore: [r, i], client: otherClient });
  add({
    name: 'expired client certificate',
    truststore: [r, i],
    client: await leaf('CN=old client,O=M', i, { notBefore: at(-30), notAfter: at(-1), now: new Date(now) }),
  });
  add({
    name: 'client certificate not yet valid',
    truststore: [r, i],
    client: await leaf('CN=future client,O=M', i, { notBefore: at(2), notAfter: at(30), now: new Date(now) }),
  });
  add({
    name: 'expired intermediate',
    truststore: [r, expiredInt],
    client: await leaf('CN=under expired,O=M', expiredInt, valid),
  });
  add({
    name: 'expired root',
    truststore: [expiredRoot],
    client: await leaf('CN=under expired root,O=E', expiredRoot, valid),
  });
  add({
    name: 'client EKU serverAuth only',
    truststore: [r, i],
    client: await leaf('CN=server-only,O=M', i, { ...valid, eku: ['1.3.6.1.5.5.7.3.1'] }),
  });
  add({
    name: 'client without extendedKeyUsage',
    truststore: [r, i],
    client: await issue({ subject: 'CN=no eku,O=M', issuer: i, ca: false, ...valid }),
  });
  add({
    name: 'client EKU clientAuth and serverAuth',
    truststore: [r, i],
    client: await leaf('CN=both,O=M', i, { ...valid, eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] }),
  });
  add({
    name: 'client keyUsage keyEncipherment only',
    truststore: [r, i],
    client: await leaf('CN=ke only,O=M', i, { ...valid, key: 'rsa2048', keyUsage: 4 }),
  });
  add({ name: 'self-signed client certificate', truststore: [r, i], client: selfSigned });
  add({
    name: 'self-signed client certificate that is itself in the truststore',
    truststore: [r, selfSigned],
    client: selfSigned,
  });
  add({ name: 'a CA certificate used as the client certificate', truststore: [r], client: i });
  add({
    name: 'RSA-2048 chain',
    truststore: [rsaRoot, rsaInt],
    client: await leaf('CN=rsa client,O=R', rsaInt, { ...valid, key: 'rsa2048' }),
  });
  add({
    name: 'P-384 root issuing the client directly',
    truststore: [p384],
    client: await leaf('CN=p384 client,O=P', p384, { ...valid, key: 'p384' }),
  });
  add({
    name: 'RSA-1024 client key',
    truststore: [r, i],
    client: await leaf('CN=weak client,O=M', i, { ...valid, key: 'rsa1024' }),
  });
  add({ name: 'SHA-1 signed client certificate', truststore: [sha1Root], client: sha1Client });
  add({
    name: 'truststore holds a re-keyed root of the same name',
    truststore: [impostor],
    client: await leaf('CN=under real root,O=M', r, valid),
  });
  add({ name: 'both roots of the same name, the right one second', truststore: [impostor, r, i], client: c });
  add({
    name: 'path length exceeded',
    truststore: [r, pathLen0, below],
    client: await leaf('CN=too deep,O=M', below, valid),
  });
  add({
    name: 'issuing certificate is not a CA',
    truststore: [r, notCa],
    client: await leaf('CN=under non-CA,O=M', notCa, valid),
  });
  add({
    name: 'issuing CA whose keyUsage lacks keyCertSign',
    truststore: [r, noCertSign],
    client: await leaf('CN=under no certsign,O=M', noCertSign, valid),
  });
});

const handshake = async (s: Situation): Promise<boolean> => {
  const srv = tls.createServer({
    key: privateKeyPem(server),
    cert: server.pem,
    ca: pemOf(...s.truststore),
    requestCert: true,
    rejectUnauthorized: true,
  });
  const verdict = new Promise<boolean>((resolve) => {
    srv.on('secureConnection', (socket) => {
      resolve(true);
      socket.end();
    });
    srv.on('tlsClientError', () => resolve(false));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  let socket: tls.TLSSocket;
  try {
    socket = tls.connect({
      port: (srv.address() as AddressInfo).port,
      host: '127.0.0.1',
      key: privateKeyPem(s.client),
      cert: [s.client, ...(s.sends ?? [])].map((c) => c.pem).join('\n'),
      rejectUnauthorized: false,
    });
  } catch {
    // The TLS stack refuses to even load the certificate on the client side ("ca md too weak").
    srv.close();
    return false;
  }
  socket.on('error', () => {});
  const ok = await verdict;
  socket.destroy();
  srv.close();
  return ok;
};

const opensslVerify = (s: Situation): boolean => {
  const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
  writeFileSync(join(dir, 'ca.pem'), pemOf(...s.truststore));
  writeFileSync(join(dir, 'client.pem'), s.client.pem);
  // -auth_level 1: the security level a TLS server applies (openssl verify applies none by default).
  const args = ['verify', '-purpose', 'sslclient', '-auth_level', '1', '-CAfile', join(dir, 'ca.pem')];
  if (s.sends?.length) {
    writeFileSync(join(dir, 'sent.pem'), pemOf(...s.sends));
    args.push('-untrusted', join(dir, 'sent.pem'));
  }
  return spawnSync('openssl', [...args, join(dir, 'client.pem')], { encoding: 'utf8' }).status === 0;
};

const diagnose = (s: Situation) =>
  verifyClient({
    leaf: parseCertificate(s.client.der),
    sent: (s.sends ?? []).map((c) => parseCertificate(c.der)),
    trusted: s.truststore.map((c) => parseCertificate(c.der)),
    at: new Date(),
    purpose: 'clientAuth',
  });

describe('diagnose agrees with a real handshake and with openssl verify', () => {
  it('over at least 25 client/truststore situations', async () => {
    expect(situations.length).toBeGreaterThanOrEqual(25);
    const rows: string[] = [];
    for (const s of situations) {
      const tlsOk = await handshake(s);
      const sslOk = opensslVerify(s);
      const ours = diagnose(s);
      rows.push(
        `${tlsOk ? 'accept' : 'reject'} / ${sslOk ? 'accept' : 'reject'} / ${ours.verdict}  ${s.name}${ours.reasons[0] ? ` [${ours.reasons[0].code}]` : ''}`,
      );
      expect(sslOk, `openssl vs TLS: ${s.name}`).toBe(tlsOk);
      if (s.apiGatewayOnly) {
        expect(tlsOk, s.name).toBe(true);
        expect(ours.verdict, s.name).toBe('reject');
        expect(ours.reasons[0]!.code).toBe('intermediate-not-in-truststore');
      } else {
        expect(ours.verdict, `diagnose vs TLS: ${s.name}`).toBe(tlsOk ? 'accept' : 'reject');
      }
    }
    console.log(`TLS / openssl / diagnose\n${rows.join('\n')}`);
  });
});
