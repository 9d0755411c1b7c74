import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EndpointMaterial, endpointMaterial } from '../../../../cli/local.js';
import { httpsStatus, runProbe } from '../../../../shared/adapters/aws/targets.js';
import { LocalEndpoint } from '../../../../shared/adapters/local/endpoint.js';
import { partnerChain, privateKeyPem } from '../../../../shared/pki/builder.js';
import { toPem } from '../../../../shared/pki/certificate.js';
import { memoryLog } from '../../../fakes/fakes.js';
import { MemoryStore } from '../../../fakes/memory-store.js';

/**
 * A rollout's probe on AWS, over a real mutual TLS handshake: the local endpoint plays the
 * target, serving a truststore with acme's CAs; beta's client is not trusted there.
 */
let material: EndpointMaterial;
let endpoint: LocalEndpoint;
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-probe-'));
  material = await endpointMaterial({ dataDir: dir, inboxDir: join(dir, 'inbox') });
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
  endpoint = new LocalEndpoint({
    loadTruststore: async () =>
      new Uint8Array(Buffer.from(toPem(acme.root.der) + toPem(acme.intermediate.der))),
    judged: true,
    domain: 'localhost',
    host: '127.0.0.1',
    port: 0,
    serverCert: material.serverCert,
    serverKey: material.serverKey,
    noTruststoreCa: material.noTruststoreCa,
    log: memoryLog(),
  });
  await endpoint.start('v1');
});

afterAll(async () => {
  await endpoint.stop();
});

describe('the probe of a target', () => {
  const url = () => `https://localhost:${endpoint.port}/health`;
  const fetchWithCa = (u: string, cert: string, key: string) =>
    httpsStatus(u, cert, key, { ca: material.caPem });

  it('passes for a client the target trusts: the request with its certificate gets 200', async () => {
    const store = new MemoryStore();
    await store.put('probes/acme.pem', new TextEncoder().encode(acme.client.pem));
    await store.put('probes/acme.key', new TextEncoder().encode(privateKeyPem(acme.client)));
    const result = await runProbe(
      { url: url(), clientCert: 'probes/acme.pem', clientKey: 'probes/acme.key' },
      store,
      fetchWithCa,
    );
    expect(result).toEqual({ ok: true, detail: `${url()} answered 200` });
  });

  it('fails, saying what it saw, for a client the target refuses in the handshake', async () => {
    const store = new MemoryStore();
    await store.put('probes/beta.pem', new TextEncoder().encode(beta.client.pem));
    await store.put('probes/beta.key', new TextEncoder().encode(privateKeyPem(beta.client)));
    const result = await runProbe(
      { url: url(), clientCert: 'probes/beta.pem', clientKey: 'probes/beta.key' },
      store,
      fetchWithCa,
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(new RegExp(`^${url().replace(/[.?]/g, '\\$&')}: `));
  });

  it('fails when its client certificate is not in the bucket', async () => {
    const result = await runProbe(
      { url: url(), clientCert: 'probes/gone.pem', clientKey: 'probes/gone.key' },
      new MemoryStore(),
      fetchWithCa,
    );
    expect(result).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^reading the probe's client certificate/),
    });
  });
});
