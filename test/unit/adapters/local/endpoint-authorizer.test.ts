import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EndpointMaterial, endpointMaterial } from '../../../../cli/local.js';
import { type IndexSource, LocalEndpoint } from '../../../../shared/adapters/local/endpoint.js';
import { type Issued, partnerChain, privateKeyPem } from '../../../../shared/pki/builder.js';
import { parseCertificate, toPem } from '../../../../shared/pki/certificate.js';
import { buildIndex, RevocationIndex } from '../../../../shared/revocation/index.js';
import { emptyRevocation, type RevocationState } from '../../../../shared/revocation/state.js';
import { entryOf } from '../../../../shared/truststore/state.js';
import { memoryLog } from '../../../fakes/fakes.js';

/**
 * The authorizer's decision at the local endpoint, with real TLS: which index it decides with
 * (read again only when its stamp changes, and before a roll), and what a denied client gets.
 */
let material: EndpointMaterial;
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
const endpoints: LocalEndpoint[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-endpoint-authz-'));
  material = await endpointMaterial({ dataDir: dir, inboxDir: join(dir, 'inbox') });
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
});

afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.stop();
});

const render = (...certs: Issued[]) => certs.map((c) => toPem(c.der)).join('');
const entry = (i: Issued, partner: string) =>
  entryOf(parseCertificate(i.der), {
    partner,
    upload: { key: `inbox/${partner}/ca.pem`, version: '1' },
    addedAt: new Date().toISOString(),
    findings: [],
  });

/** An index over these partners' CAs, with `rev` (manual revocations, rules). */
const indexOf = (partners: ('acme' | 'beta')[], rev: Partial<RevocationState> = {}) => {
  const chains = { acme, beta };
  return RevocationIndex.load(
    buildIndex({
      entries: partners.flatMap((p) => [entry(chains[p].root, p), entry(chains[p].intermediate, p)]),
      revocation: { ...emptyRevocation(), ...rev },
      serials: () => {
        throw new Error('no CRLs here');
      },
      revision: 1,
      truststoreSha256: 'a'.repeat(64),
      builtAt: new Date().toISOString(),
    }),
  );
};

/** An index source whose published index the test changes; counts the reads. */
class Published implements IndexSource {
  current: { index: RevocationIndex; version: string } | undefined;
  failing = false;
  loads = 0;
  private n = 0;
  publish(index: RevocationIndex) {
    this.n++;
    this.current = { index, version: String(this.n) };
  }
  /** Every version deleted (the stamp changes: the folder's listing did). */
  remove() {
    this.n++;
    this.current = undefined;
  }
  readonly stamp = async () => (this.failing ? Promise.reject(new Error('disk')) : String(this.n));
  readonly load = async () => {
    this.loads++;
    return this.current;
  };
}

const start = async (versions: Record<string, string>, first: string, source: IndexSource) => {
  const log = memoryLog();
  const endpoint = new LocalEndpoint({
    loadTruststore: async (v) => new Uint8Array(Buffer.from(versions[v]!)),
    judged: true,
    domain: 'localhost',
    host: '127.0.0.1',
    port: 0,
    serverCert: material.serverCert,
    serverKey: material.serverKey,
    noTruststoreCa: material.noTruststoreCa,
    log,
    revocation: source,
  });
  endpoints.push(endpoint);
  await endpoint.start(first);
  return { endpoint, log };
};

const ask = (
  endpoint: LocalEndpoint,
  client: Issued,
  path = '/',
): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: endpoint.port,
        path,
        ca: material.caPem,
        cert: client.pem,
        key: privateKeyPem(client),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });

describe('the local endpoint with a revocation index', () => {
  it('never steps back to an older index, and keeps the one in force when the index is deleted', async () => {
    const revoked = {
      generation: 2,
      manual: [
        {
          issuer: parseCertificate(acme.intermediate.der).fingerprint,
          serial: parseCertificate(acme.client.der).serial,
          reason: 'lost',
          by: 'ops',
          at: new Date().toISOString(),
        },
      ],
    };
    const source = new Published();
    source.publish(indexOf(['acme'], revoked));
    const { endpoint, log } = await start({ one: render(acme.root, acme.intermediate) }, 'one', source);
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client)).status).toBe(403);
    // The newest index deleted by hand: the store's current one is an older generation.
    source.publish(indexOf(['acme'], { generation: 1 }));
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client)).status).toBe(403);
    expect(
      log.lines.some((l) => l.message === 'revocation index older than the one in force, not loaded'),
    ).toBe(true);
    // Every version deleted: still the one in force.
    source.remove();
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client)).status).toBe(403);
    expect(log.lines.some((l) => l.message === 'revocation index missing')).toBe(true);
    // A newer one (the revocation taken back) is loaded.
    source.publish(indexOf(['acme'], { generation: 3 }));
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client)).status).toBe(200);
  });

  it('serves every client while no index is published, and says once that revocation is not enforced', async () => {
    const source = new Published();
    const { endpoint, log } = await start({ one: render(acme.root, acme.intermediate) }, 'one', source);
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client)).status).toBe(200);
    expect(log.lines.filter((l) => l.message === 'revocation not enforced')).toHaveLength(1);
  });

  it('denies a revoked client with 403 and every reason, reading the index again only when its stamp changed', async () => {
    const source = new Published();
    source.publish(indexOf(['acme']));
    const { endpoint, log } = await start({ one: render(acme.root, acme.intermediate) }, 'one', source);
    const allowed = await ask(endpoint, acme.client);
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body)).toMatchObject({ ok: true, partner: 'acme' });
    await endpoint.refreshIndex();
    await endpoint.refreshIndex();
    expect(source.loads).toBe(1);
    const serial = parseCertificate(acme.client.der).serial;
    source.publish(
      indexOf(['acme'], {
        manual: [
          {
            issuer: parseCertificate(acme.intermediate.der).fingerprint,
            serial,
            reason: 'lost',
            by: 'ops',
            at: new Date().toISOString(),
          },
        ],
      }),
    );
    await endpoint.refreshIndex();
    expect(source.loads).toBe(2);
    const denied = await ask(endpoint, acme.client, '/orders/1?x=1');
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({
      message: 'Forbidden',
      decision: 'deny',
      partner: 'acme',
      reason: 'cert.revoked',
      reasons: [{ code: 'cert.revoked', message: expect.stringMatching(/by hand \(lost; ops/) }],
    });
    // Each line names the endpoint's domain: with several targets, which one refused.
    expect(log.lines.find((l) => l.message === 'request refused')?.data).toMatchObject({
      domain: 'localhost',
      code: 'cert.revoked',
      partner: 'acme',
      route: 'GET /orders/1',
      revocationIndex: '2',
    });
  });

  it('reads the index of a new version before serving it, so the new partner is not denied as unknown', async () => {
    const source = new Published();
    source.publish(indexOf(['acme']));
    const { endpoint } = await start(
      {
        one: render(acme.root, acme.intermediate),
        two: render(acme.root, acme.intermediate, beta.root, beta.intermediate),
      },
      'one',
      source,
    );
    // What the pipeline does: the index of version two is published, then the domain rolled.
    source.publish(indexOf(['acme', 'beta']));
    await endpoint.roll('localhost', 'two');
    const beta200 = await ask(endpoint, beta.client);
    expect(beta200.status).toBe(200);
    expect(JSON.parse(beta200.body).partner).toBe('beta');
  });

  it('keeps the index in force when the store cannot be read, and logs it', async () => {
    const source = new Published();
    source.publish(indexOf(['acme'], { rules: { acme: { routes: ['GET /orders/*'] } } }));
    const { endpoint, log } = await start({ one: render(acme.root, acme.intermediate) }, 'one', source);
    source.failing = true;
    await endpoint.refreshIndex();
    expect(log.lines.some((l) => l.level === 'error' && l.message === 'revocation index not read')).toBe(
      true,
    );
    expect((await ask(endpoint, acme.client, '/admin')).status).toBe(403);
    expect((await ask(endpoint, acme.client, '/orders/7')).status).toBe(200);
  });

  it('denies every client with index.unavailable when no index is in force and the published one cannot be read', async () => {
    const source = new Published();
    source.publish(indexOf(['acme']));
    source.failing = true;
    const { endpoint } = await start({ one: render(acme.root, acme.intermediate) }, 'one', source);
    await endpoint.refreshIndex();
    const denied = await ask(endpoint, acme.client, '/');
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('index.unavailable');
    // Readable again: served again.
    source.failing = false;
    await endpoint.refreshIndex();
    expect((await ask(endpoint, acme.client, '/')).status).toBe(200);
  });
});
