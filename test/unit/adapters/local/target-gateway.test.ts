import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EndpointMaterial, endpointMaterial } from '../../../../cli/local.js';
import { LocalEndpoint } from '../../../../shared/adapters/local/endpoint.js';
import { LocalTargetGateway } from '../../../../shared/adapters/local/target-gateway.js';
import { type Issued, partnerChain, privateKeyPem } from '../../../../shared/pki/builder.js';
import { toPem } from '../../../../shared/pki/certificate.js';
import type { Target } from '../../../../shared/rollout/model.js';
import { memoryLog } from '../../../fakes/fakes.js';

/**
 * The local prober: a real mutual TLS request through a target's endpoint. Every probe must make a
 * handshake of its own: a connection kept alive from a probe before a roll was authenticated under
 * the old truststore, and says nothing about the new one.
 */
let dir: string;
let material: EndpointMaterial;
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
const endpoints: LocalEndpoint[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-target-gateway-'));
  material = await endpointMaterial({ dataDir: dir, inboxDir: join(dir, 'inbox') });
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
  writeFileSync(join(dir, 'acme-client.pem'), toPem(acme.client.der));
  writeFileSync(join(dir, 'acme-client.key'), privateKeyPem(acme.client));
});

afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.stop();
});

const render = (...certs: Issued[]) => certs.map((c) => toPem(c.der)).join('');

describe('LocalTargetGateway.probe', () => {
  it('makes a new TLS handshake for every probe: after a roll that drops the probe client’s CA, the probe fails', async () => {
    const versions: Record<string, string> = {
      both: render(acme.root, acme.intermediate, beta.root, beta.intermediate),
      beta: render(beta.root, beta.intermediate),
    };
    const endpoint = new LocalEndpoint({
      loadTruststore: async (v) => new Uint8Array(Buffer.from(versions[v]!)),
      judged: true,
      domain: 'canary.example.com',
      host: '127.0.0.1',
      port: 0,
      serverCert: material.serverCert,
      serverKey: material.serverKey,
      noTruststoreCa: material.noTruststoreCa,
      log: memoryLog(),
    });
    endpoints.push(endpoint);
    await endpoint.start('both');
    const target: Target = {
      id: 'canary',
      kind: 'apigateway-rest',
      resource: 'canary.example.com',
      wave: 'canary',
      port: endpoint.port,
      probe: {
        url: `https://localhost:${endpoint.port}/`,
        clientCert: join(dir, 'acme-client.pem'),
        clientKey: join(dir, 'acme-client.key'),
      },
    };
    const gateway = new LocalTargetGateway(new Map([['canary', endpoint]]), material.caPem);
    expect(await gateway.probe(target)).toMatchObject({ ok: true });
    await endpoint.roll('canary.example.com', 'beta');
    const after = await gateway.probe(target);
    expect(after.ok).toBe(false);
    // It says why, as the endpoint refused the handshake: not a bare connection reset.
    expect(after.detail).toMatch(/^the endpoint refused the probe's client certificate in the handshake: /);
    expect(after.detail).not.toMatch(/ECONNRESET/);
    // A URL nothing answers at is named as such, not as a refused certificate.
    const wrong = await gateway.probe({
      ...target,
      probe: { ...target.probe!, url: `https://[::1]:${endpoint.port}/` },
    });
    expect(wrong.ok).toBe(false);
    expect(wrong.detail).toMatch(
      /^the request failed \((ECONNREFUSED|EADDRNOTAVAIL)\b.*nothing answers at the probe's URL/,
    );
    expect(wrong.detail).not.toContain('likely refused');
  });
});
