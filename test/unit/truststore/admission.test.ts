import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate, toPem } from '../../../shared/pki/certificate.js';
import { admit, type CandidateUpload } from '../../../shared/truststore/admission.js';
import { MAX_TRUSTSTORE_BYTES } from '../../../shared/truststore/rules/truststore.too-large.js';
import { type Entry, entryOf } from '../../../shared/truststore/state.js';
import { type Issued, intermediate, NOW, root } from '../../fixtures/pki.js';

/**
 * The admission decision on its own, without a store: which uploads of a batch join the
 * truststore, which wait for an issuer, which are refused and with what. (The ingest tests run
 * it end to end through the pipeline.)
 */
const options = { at: NOW, expiringDays: 30 };
const cert = (i: Issued): Certificate => parseCertificate(i.der);
const entry = (i: Issued, partner = 'acme', pem?: string): Entry => ({
  ...entryOf(cert(i), {
    partner,
    upload: { key: `inbox/${partner}/x.pem`, version: '1' },
    addedAt: NOW.toISOString(),
    findings: [],
  }),
  ...(pem ? { pem } : {}),
});
const upload = (id: string, certs: Issued[], more: Partial<CandidateUpload> = {}): CandidateUpload => ({
  id,
  certificates: certs.map((c, n) => ({ cert: cert(c), source: `${id}, block ${n + 1}` })),
  inputFindings: [],
  ...more,
});
const codes = (fs: readonly { code: string }[]) => fs.map((f) => f.code);
const pemBytes = (...is: Issued[]) => is.reduce((n, i) => n + toPem(i.der).length, 0);

let r: Issued;
let i: Issued;
let other: Issued;
beforeAll(async () => {
  r = await root('CN=Adm Root,O=Acme', { keySlot: 'adm-r' });
  i = await intermediate('CN=Adm Issuing,O=Acme', r, { keySlot: 'adm-i' });
  other = await root('CN=Adm Other,O=Beta', { keySlot: 'adm-o' });
});

describe('admit', () => {
  it('adds a root and its intermediate to an empty truststore', () => {
    const [d] = admit([], [upload('u1', [r, i])], options);
    expect(d).toMatchObject({
      id: 'u1',
      accepted: true,
      waitingForIssuer: false,
      replaces: [],
      findings: [],
    });
    expect(d!.certificates.map((c) => [c.verdict, c.source, c.findings])).toEqual([
      ['added', 'u1, block 1', []],
      ['added', 'u1, block 2', []],
    ]);
  });

  it('marks what is already there as present, with nothing to do', () => {
    const [d] = admit([entry(r)], [upload('u1', [r, i])], options);
    expect(d!.accepted).toBe(true);
    expect(d!.certificates[0]).toMatchObject({
      verdict: 'present',
      findings: [
        {
          code: 'cert.duplicate',
          severity: 'info',
          message: 'Already in the truststore; nothing changes for it.',
          cert: { subject: 'CN=Adm Root,O=Acme', fingerprint: cert(r).fingerprint },
        },
      ],
    });
    expect(d!.certificates[1]!.verdict).toBe('added');
  });

  it('lets an intermediate and its root arrive in separate uploads of one batch, in any order', () => {
    const ds = admit([], [upload('int', [i]), upload('root', [r])], options);
    expect(ds.map((d) => [d.id, d.accepted])).toEqual([
      ['int', true],
      ['root', true],
    ]);
  });

  it('holds an intermediate whose root has not arrived, and says it waits for its issuer', () => {
    const [d] = admit([], [upload('int', [i])], options);
    expect(d).toMatchObject({ accepted: false, waitingForIssuer: true });
    expect(d!.certificates[0]!.verdict).toBe('rejected');
    expect(codes(d!.certificates[0]!.findings)).toEqual(['chain.issuer-missing']);
    expect(d!.findings).toEqual([]);
  });

  it('does not hold an intermediate whose root was refused in the same batch', async () => {
    const expiredRoot = await root('CN=Adm Root,O=Acme', {
      keySlot: 'adm-r',
      notAfter: new Date(NOW.getTime() - 1),
    });
    const ds = admit([], [upload('root', [expiredRoot]), upload('int', [i])], options);
    expect(ds.map((d) => [d.id, d.accepted, d.waitingForIssuer])).toEqual([
      ['root', false, false],
      ['int', false, false],
    ]);
    expect(codes(ds[0]!.certificates[0]!.findings)).toContain('cert.expired');
    // The intermediate is refused by its own finding (its issuer is gone from the batch), not by a
    // finding of the upload as a whole.
    expect(codes(ds[1]!.certificates[0]!.findings)).toEqual(['chain.issuer-missing']);
    expect(ds[1]!.findings).toEqual([]);
  });

  it('rejects an upload whose input had a blocking finding, and judges the rest without it', () => {
    const broken = upload('broken', [r], {
      inputFindings: [{ code: 'input.unparseable', severity: 'error', message: 'block 2 is damaged' }],
    });
    const ds = admit([], [broken, upload('int', [i])], options);
    expect(ds[0]).toMatchObject({ accepted: false, findings: broken.inputFindings });
    expect(ds[0]!.certificates[0]!.verdict).toBe('rejected');
    expect(ds[1]).toMatchObject({ accepted: false, waitingForIssuer: false });
    // A warning in the input does not reject it.
    const warned = upload('warned', [r, i], {
      inputFindings: [{ code: 'input.note', severity: 'warning', message: 'text around the blocks' }],
    });
    expect(admit([], [warned], options)[0]!.accepted).toBe(true);
  });
});

describe('rotation and collisions', () => {
  let rekeyed: Issued;
  beforeAll(async () => {
    rekeyed = await root('CN=Adm Root,O=Acme', { keySlot: 'adm-r2' });
  });

  it('refuses a second CA with a subject the truststore has, and says how to rotate it', () => {
    const [d] = admit([entry(r)], [upload('again', [rekeyed])], options);
    expect(d!.accepted).toBe(false);
    expect(codes(d!.certificates[0]!.findings)).toContain('truststore.duplicate-subject');
    expect(d!.findings).toEqual([
      {
        code: 'truststore.replace-hint',
        severity: 'info',
        message:
          'To rotate a CA (same subject, new key or validity), upload it again under inbox/<partner>/replace/: it then replaces the existing one, and clients issued under the old CA fail from that roll on.',
      },
    ]);
  });

  it('rotates the partner’s own CA under replace/, and names the entry it replaces', () => {
    const old = entry(r, 'acme');
    const [d] = admit(
      [old, entry(other, 'beta')],
      [upload('rot', [rekeyed], { replace: true, partner: 'acme' })],
      options,
    );
    expect(d!.accepted).toBe(true);
    expect(d!.replaces).toEqual([old]);
    expect(d!.findings).toEqual([]);
    // Without a partner (the CLI), the subject alone decides.
    expect(admit([old], [upload('rot', [rekeyed], { replace: true })], options)[0]!.replaces).toEqual([old]);
  });

  it('never rotates another partner’s CA: the upload collides with it instead', () => {
    const [d] = admit(
      [entry(r, 'acme')],
      [upload('rot', [rekeyed], { replace: true, partner: 'beta' })],
      options,
    );
    expect(d!.accepted).toBe(false);
    expect(d!.replaces).toEqual([]);
    expect(codes(d!.certificates[0]!.findings)).toContain('truststore.duplicate-subject');
    // A replace upload gets no hint to use replace/.
    expect(codes(d!.findings)).not.toContain('truststore.replace-hint');
  });

  it('refuses a rotation that would leave a CA below it failing lint, naming that CA', () => {
    const [d] = admit(
      [entry(r, 'acme'), entry(i, 'acme')],
      [upload('rot', [rekeyed], { replace: true, partner: 'acme' })],
      options,
    );
    expect(d!.accepted).toBe(false);
    expect(d!.replaces).toEqual([]);
    expect(codes(d!.findings)).toEqual(['truststore.breaks-entry']);
    expect(d!.findings[0]!.message).toMatch(
      new RegExp(
        `^Accepting this upload would leave CN=Adm Issuing,O=Acme \\(partner acme, sha256 ${cert(i).fingerprint.slice(0, 16)}…\\) in the truststore failing lint with signature\\.invalid: .* Send the CAs issued under the one you rotate, re-issued, in the same replace upload, or remove them first\\.$`,
      ),
    );
    // With the intermediate re-issued under the new root in the same upload, the rotation passes.
    return intermediate('CN=Adm Issuing,O=Acme', rekeyed, { keySlot: 'adm-i2' }).then((reissued) => {
      const [ok] = admit(
        [entry(r, 'acme'), entry(i, 'acme')],
        [upload('rot', [rekeyed, reissued], { replace: true, partner: 'acme' })],
        options,
      );
      expect(ok!.accepted).toBe(true);
      expect(ok!.replaces.map((e) => e.subject).sort()).toEqual([
        'CN=Adm Issuing,O=Acme',
        'CN=Adm Root,O=Acme',
      ]);
    });
  });
});

describe('size', () => {
  /** An unrelated entry standing for the rest of the truststore: only its PEM's length counts. */
  const filler = (bytes: number): Entry => ({
    ...entry(other, 'beta'),
    fingerprint: 'f'.repeat(64),
    subjectKey: '2.5.4.3=filler',
    issuerKey: '2.5.4.3=filler',
    pem: 'x'.repeat(bytes),
  });

  it('refuses the upload that would take the truststore over the limit, and says by how much', () => {
    const own = pemBytes(r, i);
    const base = MAX_TRUSTSTORE_BYTES - own + 1;
    const [d] = admit([filler(base)], [upload('big', [r, i])], options);
    expect(d!.accepted).toBe(false);
    expect(d!.findings).toEqual([
      {
        code: 'truststore.too-large',
        severity: 'error',
        message: `This upload adds ${(own / 1000).toFixed(0)} KB of CAs; with the truststore as it stands (${(base / 1000).toFixed(0)} KB) it would be 1000 KB (1000001 bytes), over API Gateway's limit of about 1000 KB (1000000 bytes) for the whole truststore: send only the CAs your clients need, or have unused CAs removed first.`,
      },
    ]);
    expect(admit([filler(base - 1)], [upload('fits', [r, i])], options)[0]!.accepted).toBe(true);
  });

  it('admits uploads in batch order until one does not fit, and refuses only that one', () => {
    const first = pemBytes(other);
    const second = pemBytes(r, i);
    const base = MAX_TRUSTSTORE_BYTES - first - second + 1;
    const ds = admit([filler(base)], [upload('a', [other]), upload('b', [r, i])], options);
    expect(ds.map((d) => d.accepted)).toEqual([true, false]);
    expect(ds[1]!.findings[0]!.message).toContain(
      `and the ${(first / 1000).toFixed(0)} KB admitted before it in this batch it would be 1000 KB (1000001 bytes)`,
    );
    expect(ds[1]!.findings[0]!.message).toMatch(/: send it again later, or have unused CAs removed first\.$/);
  });

  it('counts a certificate once, and an upload of what is present as nothing', () => {
    const once = pemBytes(r);
    const base = MAX_TRUSTSTORE_BYTES - once;
    expect(admit([filler(base)], [upload('twice', [r, r])], options)[0]!.accepted).toBe(true);
    expect(
      admit([filler(MAX_TRUSTSTORE_BYTES), entry(r)], [upload('present', [r])], options)[0]!.accepted,
    ).toBe(true);
  });
});
