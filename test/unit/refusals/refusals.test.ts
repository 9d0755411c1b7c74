import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Issued } from '../../../shared/pki/builder.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { accessLogFormat, parseAccessLog } from '../../../shared/refusals/access-log.js';
import { accessLogLine, requestTime } from '../../fixtures/access-log.js';
import { runCli } from '../../fixtures/cli.js';
import { leaf, partnerChain, pemOf, privateKeyPem, root } from '../../fixtures/pki.js';

/** A refused request as API Gateway logs it: the certificate fields filled in. */
const refused = (client: Issued, at: Date, id: string) =>
  accessLogLine({
    requestId: id,
    requestTime: requestTime(at),
    requestTimeEpoch: String(at.getTime()),
    domainName: 'api.example.com',
    status: '403',
    error: 'Forbidden',
    sourceIp: '203.0.113.7',
    clientCertPem: client.pem,
    subjectDN: client.cert.subject,
    issuerDN: client.cert.issuer,
    serialNumber: client.cert.serialNumber,
    notBefore: 'Jun  1 00:00:00 2026 GMT',
    notAfter: 'Jun  1 00:00:00 2029 GMT',
  });
/** A request that passed mutual TLS: API Gateway leaves the certificate variables empty. */
const passed = (at: Date, id: string) =>
  accessLogLine({
    requestId: id,
    requestTime: requestTime(at),
    requestTimeEpoch: String(at.getTime()),
    domainName: 'api.example.com',
    status: '200',
  });

describe('the access-log format', () => {
  it('is one JSON object of quoted $context variables, the client certificate ones included', () => {
    const format = accessLogFormat();
    expect(Object.keys(JSON.parse(format))).toContain('clientCertPem');
    for (const v of [
      '$context.identity.clientCert.clientCertPem',
      '$context.identity.clientCert.subjectDN',
      '$context.identity.clientCert.issuerDN',
      '$context.identity.clientCert.serialNumber',
      '$context.identity.clientCert.validity.notBefore',
      '$context.identity.clientCert.validity.notAfter',
      '$context.requestId',
      '$context.domainName',
    ])
      expect(format).toContain(`"${v}"`);
  });

  it('reads refusals, counts passed requests and other lines, from plain lines and a CloudWatch export', async () => {
    const acme = await partnerChain('Acme');
    const at = new Date('2026-12-01T03:00:00Z');
    const text = [
      refused(acme.client, at, 'r1'),
      passed(at, 'r2'),
      `2026-12-01T03:00:01.000Z ${refused(acme.client, at, 'r3')}`,
      'START RequestId: something else',
      '',
    ].join('\n');
    const log = parseAccessLog(text);
    expect(log.refusals.map((r) => r.requestId)).toEqual(['r1', 'r3']);
    expect(log.refusals[0]).toMatchObject({
      time: at,
      domainName: 'api.example.com',
      clientCertPem: acme.client.pem,
      serialNumber: acme.client.cert.serialNumber,
    });
    expect([log.passed, log.other]).toEqual([1, 1]);
    expect(log.otherExamples).toEqual(['START RequestId: something else']);
  });

  it('reads a PEM whose line breaks were written raw, and the time from requestTime when there is no epoch', async () => {
    const acme = await partnerChain('Acme');
    const raw = accessLogLine({
      requestId: 'r1',
      requestTime: '01/Dec/2026:04:05:06 +0100',
      clientCertPem: 'PEM',
    }).replace('PEM', acme.client.pem);
    expect(raw.split('\n').length).toBeGreaterThan(3);
    const log = parseAccessLog(`${raw}\n${passed(new Date(), 'r2')}\n`);
    expect(log.refusals).toHaveLength(1);
    expect(log.refusals[0]!.clientCertPem).toBe(acme.client.pem.trim());
    expect(log.refusals[0]!.time).toEqual(new Date('2026-12-01T03:05:06Z'));
    expect(log.passed).toBe(1);
  });
});

describe('hostile access logs', () => {
  it('takes a time no Date can hold as no time, and reads lines that open JSON but never close it once each', async () => {
    const acme = await partnerChain('Acme');
    const line = accessLogLine({
      requestId: 'r1',
      requestTimeEpoch: '1e300',
      clientCertPem: acme.client.pem,
    });
    const log = parseAccessLog(`${line}\n${'{"requestId": broken\n'.repeat(20_000)}`);
    expect(log.refusals).toHaveLength(1);
    expect(log.refusals[0]!.time).toBeUndefined();
    expect(log.other).toBe(20_000);
    // A line far longer than any access-log line is not parsed.
    expect(parseAccessLog(`{"requestId":"${'x'.repeat(100_000)}","clientCertPem":"-"}`).other).toBe(1);
  });
});

describe('trustroll refusals', () => {
  let dir: string;
  let store: string[];
  let acme: Awaited<ReturnType<typeof partnerChain>>;
  let beta: Awaited<ReturnType<typeof partnerChain>>;
  const logFile = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trustroll-refusals-'));
    store = ['--data-dir', join(dir, '.trustroll')];
    acme = await partnerChain('Acme');
    beta = await partnerChain('Beta');
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    mkdirSync(join(dir, 'inbox', 'beta'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', 'ca.pem'), pemOf(acme.root, acme.intermediate));
    // beta uploads its root only: its clients (issued by the intermediate) are refused.
    writeFileSync(join(dir, 'inbox', 'beta', 'ca.pem'), pemOf(beta.root));
    const ingest = await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')]);
    expect(ingest.code, ingest.err).toBe(0);
  }, 60_000);

  it('explains each refused client against the truststore served, grouped by partner and reason, exit 1', async () => {
    const now = new Date();
    const expired = await leaf('CN=old.acme.example', acme.intermediate, {
      now,
      notBefore: new Date(now.getTime() - 400 * 86_400_000),
      notAfter: new Date(now.getTime() - 86_400_000),
    });
    const stranger = await leaf('CN=stranger', await root('CN=Stranger Root'), { now });
    const file = logFile('access.log', [
      refused(expired, now, 'r1'),
      refused(expired, new Date(now.getTime() + 1000), 'r2'),
      refused(beta.client, now, 'r3'),
      refused(stranger, now, 'r4'),
      passed(now, 'r5'),
    ]);
    const r = await runCli(['refusals', '--log-file', file, ...store, '--json']);
    expect(r.code, r.err).toBe(1);
    const out = JSON.parse(r.out);
    expect(out.passed).toBe(1);
    const byId = Object.fromEntries(out.refusals.map((x: { requestId: string }) => [x.requestId, x]));
    expect(byId.r1).toMatchObject({
      partner: 'acme',
      code: 'expired',
      certSha256: parseCertificate(expired.der).fingerprint,
      domainName: 'api.example.com',
      version: '000001',
    });
    // beta's intermediate was never uploaded (its root was): the partner is named as a guess,
    // and told what to upload.
    expect(byId.r3).toMatchObject({ partner: 'beta', partnerGuessed: true, code: 'issuer-unknown' });
    expect(byId.r3.message).toMatch(
      /CN=Beta Issuing CA,O=Beta is probably an intermediate CA of partner beta \(the truststore holds CN=Beta Root CA,O=Beta, of the same organisation\).*ask beta to upload it to inbox\/beta\/\.$/,
    );
    expect(byId.r4).toMatchObject({ partner: 'unknown', code: 'issuer-unknown' });
    expect(out.groups[0]).toMatchObject({ partner: 'acme', code: 'expired', count: 2 });
    expect(out.groups[0].certificates).toHaveLength(1);

    const text = await runCli(['refusals', '--log-file', file, ...store]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^4 refused handshakes in .*access\.log \(1 request passed mutual TLS\)/);
    expect(text.out).toMatch(/\npartner acme: expired, 2 refusals of 1 certificate \(/);
    expect(text.out).toMatch(/ {2}- CN=old\.acme\.example \(serial /);
    expect(text.out).toMatch(/ {2}judged against truststore version 000001\n/);
  });

  it('names a private key logged where the client certificate belongs, and shows or keeps none of it', async () => {
    const now = new Date();
    const key = privateKeyPem(acme.client);
    const keyBody = key.split('\n')[1]!;
    const file = logFile('key.log', [
      accessLogLine({
        requestId: 'k1',
        requestTime: requestTime(now),
        requestTimeEpoch: String(now.getTime()),
        status: '403',
        clientCertPem: key,
      }),
      accessLogLine({
        requestId: 'c1',
        requestTime: requestTime(now),
        requestTimeEpoch: String(now.getTime()),
        status: '403',
        clientCertPem: acme.client.pem.slice(0, 200),
      }),
    ]);
    const r = await runCli(['refusals', '--log-file', file, ...store, '--json']);
    expect(r.code, r.err).toBe(1);
    expect(r.out).not.toContain(keyBody);
    const byId = Object.fromEntries(
      JSON.parse(r.out).refusals.map((x: { requestId: string }) => [x.requestId, x]),
    );
    expect(byId.k1).toMatchObject({ code: 'cert.not-logged', partner: 'unknown' });
    expect(byId.k1.message).toMatch(
      /^The log line holds a PEM private key where the client certificate should be/,
    );
    expect(byId.k1.message).toMatch(/Treat that key as exposed/);
    // A certificate cut on the way is still told apart from a key.
    expect(byId.c1.message).toMatch(/does not parse: its PEM was cut or changed on the way/);
    const text = await runCli(['refusals', '--log-file', file, ...store]);
    expect(text.out).not.toContain(keyBody);
  });

  it("feed the report: the local endpoint's refusals.log without a flag, any exported log with --refusals", async () => {
    const now = new Date();
    const stranger = await leaf('CN=reported.stranger', await root('CN=Other Root'), { now });
    mkdirSync(join(dir, '.trustroll', 'endpoint'), { recursive: true });
    writeFileSync(join(dir, '.trustroll', 'endpoint', 'refusals.log'), `${refused(stranger, now, 'e1')}\n`);
    const local = await runCli(['report', '--format', 'json', ...store]);
    expect(local.code, local.err).toBe(0);
    const report = JSON.parse(local.out);
    expect(report.refusals.source).toMatch(/endpoint\/refusals\.log$/);
    expect(report.refusals.groups).toEqual([
      expect.objectContaining({ partner: 'unknown', code: 'issuer-unknown', count: 1 }),
    ]);
    const exported = logFile('exported.log', [refused(stranger, now, 'x1'), refused(stranger, now, 'x2')]);
    const html = await runCli(['report', '--refusals', exported, ...store]);
    expect(html.code, html.err).toBe(0);
    expect(html.out).toContain('<h2 id="refusals-h">Refused handshakes (2)</h2>');
    expect(html.out).toContain('CN=reported.stranger');
    const missing = await runCli(['report', '--refusals', join(dir, 'none.log'), ...store]);
    expect(missing.code).toBe(2);
  });

  it('says exit 0 when every request passed, and refuses a file with no line of the format (exit 2)', async () => {
    const clean = await runCli([
      'refusals',
      '--log-file',
      logFile('ok.log', [passed(new Date(), 'a')]),
      ...store,
    ]);
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(/^0 refused handshakes .*\(1 request passed mutual TLS\), judged/);
    const wrong = await runCli([
      'refusals',
      '--log-file',
      logFile('other.log', ['{"requestId":"x","status":"403"}', '10.0.0.1 - - [01/Dec/2026] "GET /"']),
      ...store,
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/holds no access-log line of the format trustroll reads .*accessLogFormat/);
    // An empty export (a filter that kept the refusals, and there were none): nothing refused.
    const empty = await runCli(['refusals', '--log-file', logFile('empty.log', []), ...store]);
    expect(empty.code, empty.err).toBe(0);
    expect(empty.out).toMatch(/^0 refused handshakes/);
    const missing = await runCli(['refusals', '--log-file', join(dir, 'nope.log'), ...store]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*nope\.log: no such file/);
  });
});
