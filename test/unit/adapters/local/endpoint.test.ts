import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EndpointMaterial, endpointMaterial } from '../../../../cli/local.js';
import { LocalEndpoint } from '../../../../shared/adapters/local/endpoint.js';
import { days, type Issued, partnerChain, privateKeyPem, root } from '../../../../shared/pki/builder.js';
import { toPem } from '../../../../shared/pki/certificate.js';
import { memoryLog } from '../../../fakes/fakes.js';

/**
 * The local endpoint's rolls, with real TLS handshakes: a roll that only adds CAs, one that
 * removes one, and what a reload of a version ingest judged checks again.
 */
let material: EndpointMaterial;
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
const endpoints: LocalEndpoint[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-endpoint-'));
  material = await endpointMaterial({ dataDir: dir, inboxDir: join(dir, 'inbox') });
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta', { key: 'p384' });
});

afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.stop();
});

/** A truststore as trustroll renders it: one canonical PEM block per CA. */
const render = (...certs: Issued[]) => certs.map((c) => toPem(c.der)).join('');

const start = async (versions: Record<string, string>, first: string, judged = true) => {
  const log = memoryLog();
  const endpoint = new LocalEndpoint({
    loadTruststore: async (v) => new Uint8Array(Buffer.from(versions[v]!)),
    judged,
    domain: 'localhost',
    host: '127.0.0.1',
    port: 0,
    serverCert: material.serverCert,
    serverKey: material.serverKey,
    noTruststoreCa: material.noTruststoreCa,
    log,
  });
  endpoints.push(endpoint);
  await endpoint.start(first);
  return endpoint;
};

/** The HTTP status the endpoint answers a client with, or `refused` when the handshake fails. */
const ask = (endpoint: LocalEndpoint, client: Issued): Promise<number | 'refused'> =>
  new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: endpoint.port,
        ca: material.caPem,
        cert: client.pem,
        key: privateKeyPem(client),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve('refused'));
    req.end();
  });

describe('the local endpoint', () => {
  it('rolls to a version that adds a partner: its client is served from the roll on, the first still is', async () => {
    const endpoint = await start(
      {
        one: render(acme.root, acme.intermediate),
        two: render(acme.root, acme.intermediate, beta.root, beta.intermediate),
      },
      'one',
    );
    expect(await ask(endpoint, acme.client)).toBe(200);
    expect(await ask(endpoint, beta.client)).toBe('refused');
    await endpoint.roll('localhost', 'two');
    expect(await ask(endpoint, beta.client)).toBe(200);
    expect(await ask(endpoint, acme.client)).toBe(200);
    expect((await endpoint.describe('localhost')).truststoreVersion).toBe('two');
  });

  it('rolls to a version without a partner: its client is refused from the roll on', async () => {
    const endpoint = await start(
      {
        both: render(acme.root, acme.intermediate, beta.root, beta.intermediate),
        beta: render(beta.root, beta.intermediate),
        again: render(beta.root, beta.intermediate, acme.root, acme.intermediate),
      },
      'both',
    );
    expect(await ask(endpoint, acme.client)).toBe(200);
    await endpoint.roll('localhost', 'beta');
    expect(await ask(endpoint, acme.client)).toBe('refused');
    expect(await ask(endpoint, beta.client)).toBe(200);
    // Added back after its removal: trusted again.
    await endpoint.roll('localhost', 'again');
    expect(await ask(endpoint, acme.client)).toBe(200);
  });

  it('ends a kept-alive connection after a roll that takes CAs out', async () => {
    const endpoint = await start(
      {
        one: render(acme.root, acme.intermediate, beta.root, beta.intermediate),
        two: render(acme.root, acme.intermediate),
      },
      'one',
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const on = (path: string): Promise<string> =>
      new Promise((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: endpoint.port,
            path,
            ca: material.caPem,
            cert: beta.client.pem,
            key: privateKeyPem(beta.client),
            agent,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(`${res.statusCode} ${res.headers.connection}`));
          },
        );
        req.on('error', (e) => resolve(`error ${e.message}`));
        req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
        req.end();
      });
    expect(await on('/a')).toBe('200 keep-alive');
    await endpoint.roll('localhost', 'two');
    // The connection opened under the version before is closed: the next request does not reach
    // the endpoint on it, and a new handshake refuses beta's client now.
    expect(await on('/b')).toMatch(/^error /);
    expect(await on('/c')).toMatch(/^error /);
    agent.destroy();
  });

  it('refuses a TLS 1.2 renegotiation: a client certificate is judged once per connection', async () => {
    const endpoint = await start({ one: render(acme.root, acme.intermediate) }, 'one');
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(
        {
          host: '127.0.0.1',
          port: endpoint.port,
          servername: 'localhost',
          ca: material.caPem,
          cert: acme.client.pem,
          key: privateKeyPem(acme.client),
          maxVersion: 'TLSv1.2',
        },
        () => {
          socket.on('error', (e) => resolve(`error ${e.message}`));
          socket.renegotiate({ rejectUnauthorized: true }, (e) =>
            resolve(e ? `error ${e.message}` : 'renegotiated'),
          );
          socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        },
      );
      setTimeout(() => resolve('no answer'), 10_000);
    });
    expect(outcome).toMatch(/^error /);
  });

  it('judges a version ingest judged again only for what time changes: an expired CA, not signatures', async () => {
    const expired = await root('CN=Expired Root CA,O=Gone', {
      notBefore: days(-400, new Date()),
      notAfter: days(-1, new Date()),
    });
    // A CA whose signature no longer verifies: one byte of its signature changed.
    const der = new Uint8Array(beta.intermediate.der);
    der[der.length - 5] = der.at(-5)! ^ 0x01;
    const altered = toPem(der);
    const versions = { v: render(acme.root, acme.intermediate, expired) + altered + toPem(beta.root.der) };
    const codes = async (judged: boolean) => {
      const endpoint = await start(versions, 'v', judged);
      return (await endpoint.describe('localhost')).warnings.map((w) => w.split(':')[0]).sort();
    };
    expect(await codes(true)).toEqual(['cert.expired']);
    // The same bytes as any file (`trustroll serve`): every rule, signatures included.
    expect(await codes(false)).toEqual(['cert.expired', 'signature.invalid']);
  });

  it('names what it plays and the setting to change when its port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const endpoint = new LocalEndpoint({
        loadTruststore: async () => new Uint8Array(Buffer.from(render(acme.root, acme.intermediate))),
        judged: true,
        domain: 'eu.example.com',
        host: '127.0.0.1',
        port,
        serverCert: material.serverCert,
        serverKey: material.serverKey,
        noTruststoreCa: material.noTruststoreCa,
        log: memoryLog(),
        portSource: { who: 'target eu', fix: 'give target eu another "port" in targets.json' },
      });
      await expect(endpoint.start('v')).rejects.toThrow(
        `target eu cannot listen on 127.0.0.1:${port} (the port is already in use: is another trustroll up or serve running?): give target eu another "port" in targets.json`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
