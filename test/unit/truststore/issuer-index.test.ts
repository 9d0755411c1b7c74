import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { IssuerIndex, MAX_ISSUER_CANDIDATES } from '../../../shared/truststore/issuer-index.js';
import { lintCertificates } from '../../../shared/truststore/lint.js';
import { dedupe, renderBlocks, renderTruststore } from '../../../shared/truststore/render.js';
import { type Issued, intermediate, leaf, NOW, root } from '../../fixtures/pki.js';

const parsed = (i: Issued): Certificate => parseCertificate(i.der);

let r: Certificate;
let i1: Certificate;
let i2: Certificate;
let client: Certificate;
beforeAll(async () => {
  const rootCa = await root('CN=Index Root');
  const a = await intermediate('CN=Index Policy', rootCa, { pathLen: undefined });
  const b = await intermediate('CN=Index Issuing', a);
  const c = await leaf('CN=index-client', b);
  [r, i1, i2, client] = [rootCa, a, b, c].map(parsed) as [Certificate, Certificate, Certificate, Certificate];
});

describe('path lengths, whatever order they are asked in', () => {
  it('leaf first: the walk fills every depth on the way', () => {
    const index = new IssuerIndex([client, i2, i1, r]);
    expect(index.pathLength(client)).toBe(4);
    expect(index.pathLength(i2)).toBe(3);
    expect(index.pathLength(i1)).toBe(2);
    expect(index.pathLength(r)).toBe(1);
  });

  it('root first: later walks stop at the depths already known', () => {
    const index = new IssuerIndex([r, i1, i2, client]);
    expect(index.pathLength(r)).toBe(1);
    expect(index.pathLength(i1)).toBe(2);
    expect(index.pathLength(client)).toBe(4);
    expect(index.pathLength(i2)).toBe(3);
  });

  it('middle first, then both ends', () => {
    const index = new IssuerIndex([i1, client, r, i2]);
    expect(index.pathLength(i2)).toBe(3);
    expect(index.pathLength(client)).toBe(4);
    expect(index.pathLength(r)).toBe(1);
  });

  it('a broken path has no length, for every certificate below the break', () => {
    const index = new IssuerIndex([i1, i2, client]);
    expect(index.pathLength(client)).toBeNull();
    expect(index.pathLength(i1)).toBeNull();
    expect(index.issuerOf(i1)).toEqual({ kind: 'missing' });
  });

  it('pathOf follows issuers up to the root, the certificate itself first', () => {
    const index = new IssuerIndex([r, i1, i2, client]);
    expect(index.pathOf(client)).toEqual([client, i2, i1, r]);
    expect(index.pathOf(r)).toEqual([r]);
    expect(new IssuerIndex([i2, client]).pathOf(client)).toEqual([client, i2]);
  });

  it('a certificate added later resolves what was missing before (no stale cache)', () => {
    const index = new IssuerIndex([i1, i2]);
    expect(index.pathLength(i2)).toBeNull();
    expect(index.issuerOf(i1).kind).toBe('missing');
    index.add(r);
    expect(index.issuerOf(i1)).toEqual({ kind: 'issuer', issuer: r });
    expect(index.pathLength(i2)).toBe(3);
    expect(index.withSubject(r.subject.key)).toEqual([r]);
    expect(index.withSubject('CN=nobody')).toEqual([]);
  });
});

describe('CAs that sign each other (a cross-signed pair without its root)', () => {
  let a: Certificate;
  let b: Certificate;
  beforeAll(async () => {
    // Same subject, same key: "Loop A" signed by "Loop B", which "Loop A"'s key signed.
    const a0 = await root('CN=Loop A');
    const bIssued = await intermediate('CN=Loop B', a0, { pathLen: undefined });
    const a1 = await intermediate('CN=Loop A', bIssued, { pathLen: undefined });
    a = parsed(a1);
    b = parsed(bIssued);
  });

  it('each has an issuer, yet no path ends: no length, and the walk stops at the loop', () => {
    const index = new IssuerIndex([a, b]);
    expect(index.issuerOf(a)).toEqual({ kind: 'issuer', issuer: b });
    expect(index.issuerOf(b)).toEqual({ kind: 'issuer', issuer: a });
    expect(index.pathLength(a)).toBeNull();
    expect(index.pathLength(b)).toBeNull();
    expect(index.pathOf(a)).toEqual([a, b]);
    expect(index.pathOf(b)).toEqual([b, a]);
  });

  it('lint names the loop in chain.no-root for each, and finds no missing issuer', () => {
    const findings = lintCertificates(
      [
        { cert: a, source: 'a' },
        { cert: b, source: 'b' },
      ],
      { at: NOW },
    ).findings;
    const noRoot = findings.filter((f) => f.code === 'chain.no-root');
    expect(noRoot.map((f) => f.cert?.fingerprint).sort()).toEqual([a.fingerprint, b.fingerprint].sort());
    expect(noRoot.find((f) => f.cert?.fingerprint === a.fingerprint)?.message).toContain(
      '("CN=Loop A" → "CN=Loop B" → "CN=Loop A")',
    );
    expect(noRoot.find((f) => f.cert?.fingerprint === b.fingerprint)?.message).toContain(
      '("CN=Loop B" → "CN=Loop A" → "CN=Loop B")',
    );
    expect(findings.filter((f) => f.code === 'chain.issuer-missing')).toEqual([]);
    expect(findings.filter((f) => f.code === 'chain.too-long')).toEqual([]);
  });
});

describe('issuers that share a name', () => {
  let twins: Issued[];
  let last: Issued;
  beforeAll(async () => {
    twins = [];
    for (let n = 0; n <= MAX_ISSUER_CANDIDATES; n++)
      twins.push(await root('CN=Twin Root', { keySlot: `twin-${n}` }));
    last = twins.at(-1)!;
  });

  it('the issuer whose key identifier matches is tried first, beyond the bounded candidates', async () => {
    const child = parsed(await intermediate('CN=Twin Child', last));
    const index = new IssuerIndex([...twins.map(parsed), child]);
    const link = index.issuerOf(child);
    expect(link.kind).toBe('issuer');
    expect(link.kind === 'issuer' && link.issuer.fingerprint).toBe(parsed(last).fingerprint);
  });

  it('without key identifiers only the first candidates are tried: a bounded refusal, not a search', async () => {
    const child = parsed(await intermediate('CN=Twin Child No AKI', last, { aki: false }));
    const index = new IssuerIndex([...twins.map(parsed), child]);
    const link = index.issuerOf(child);
    expect(link.kind).toBe('bad-signature');
    expect(link.kind === 'bad-signature' && link.candidates).toHaveLength(MAX_ISSUER_CANDIDATES + 1);
  });

  it('without key identifiers, a signer among the first candidates is found by its signature', async () => {
    const second = twins[1]!;
    const child = parsed(await intermediate('CN=Twin Child 2', second, { aki: false }));
    const link = new IssuerIndex([...twins.map(parsed), child]).issuerOf(child);
    expect(link.kind === 'issuer' && link.issuer.fingerprint).toBe(parsed(second).fingerprint);
  });

  it('a candidate without a subject key identifier never outranks one that matches', async () => {
    const noSki = await root('CN=Twin Root', { keySlot: 'twin-no-ski', ski: false });
    const child = parsed(await intermediate('CN=Twin Child 3', last));
    const list = [...Array.from({ length: MAX_ISSUER_CANDIDATES }, () => parsed(noSki)), parsed(last), child];
    const link = new IssuerIndex(list).issuerOf(child);
    expect(link.kind === 'issuer' && link.issuer.fingerprint).toBe(parsed(last).fingerprint);
  });

  it('a self-signed root is its own issuer even when a same-name CA is present', () => {
    const index = new IssuerIndex(twins.map(parsed));
    for (const t of twins) expect(index.issuerOf(parsed(t))).toEqual({ kind: 'self' });
  });
});

describe('render order', () => {
  it('same subject: ordered by fingerprint, whatever the input order; different subjects by subject', async () => {
    const a = parsed(await root('CN=Same Subject', { keySlot: 'same-1' }));
    const b = parsed(await root('CN=Same Subject', { keySlot: 'same-2' }));
    const z = parsed(await root('CN=A First Subject'));
    const [low, high] = a.fingerprint < b.fingerprint ? [a, b] : [b, a];
    const text = renderTruststore([high, z, low]);
    expect(renderTruststore([low, high, z])).toBe(text);
    const order = [z, low, high].map((c) => text.indexOf(Buffer.from(c.der).toString('base64').slice(0, 64)));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  it('orders by code unit, not locale ("B" before "a")', () => {
    const blocks = [
      { subject: 'a', fingerprint: '00', pem: 'lower\n' },
      { subject: 'B', fingerprint: '02', pem: 'upper\n' },
      { subject: 'B', fingerprint: '01', pem: 'upper-first\n' },
    ];
    expect(renderBlocks(blocks)).toBe('upper-first\nupper\nlower\n');
    expect(renderBlocks([...blocks].reverse())).toBe('upper-first\nupper\nlower\n');
  });

  it('a repeated fingerprint is rendered once, the first occurrence kept', () => {
    const blocks = [
      { subject: 'x', fingerprint: '01', pem: 'first\n' },
      { subject: 'x', fingerprint: '01', pem: 'second\n' },
    ];
    expect(renderBlocks(blocks)).toBe('first\n');
    expect(dedupe([r, i1, r, i1])).toEqual([r, i1]);
    expect(dedupe([i1, r, i1])).toEqual([i1, r]);
  });
});
