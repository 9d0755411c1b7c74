import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate, toPem } from '../../../shared/pki/certificate.js';
import { admit, type CandidateUpload, partnerClaims } from '../../../shared/truststore/admission.js';
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

  it('rejects an upload for one bad certificate among good ones, and shows the good one clean', async () => {
    const expired = await root('CN=Adm Expired,O=Acme', {
      keySlot: 'adm-x',
      notAfter: new Date(NOW.getTime() - 1),
    });
    const [d] = admit([], [upload('mixed', [other, expired])], options);
    expect(d!.accepted).toBe(false);
    expect(d!.certificates.map((c) => [c.verdict, codes(c.findings)])).toEqual([
      ['rejected', []],
      ['rejected', ['cert.expired']],
    ]);
  });

  it('leaves what is already in the truststore unjudged: an entry expired since does not refuse its upload', async () => {
    const old = await root('CN=Adm Old Root,O=Acme', {
      keySlot: 'adm-old',
      notAfter: new Date(NOW.getTime() - 1),
    });
    const under = await intermediate('CN=Adm Under Old,O=Acme', old, { keySlot: 'adm-under' });
    const [d] = admit([entry(old)], [upload('again', [old, under])], options);
    expect(d!.accepted).toBe(true);
    expect(d!.certificates.map((c) => c.verdict)).toEqual(['present', 'added']);
  });

  it('judges at the time it is given, not the clock', async () => {
    const later = new Date(NOW.getTime() + 3650 * 86_400_000);
    const then = await root('CN=Adm Then,O=Acme', {
      keySlot: 'adm-then',
      notBefore: new Date(later.getTime() - 86_400_000),
      notAfter: new Date(later.getTime() + 86_400_000),
    });
    expect(admit([], [upload('then', [then])], { ...options, at: later })[0]!.accepted).toBe(true);
    expect(admit([], [upload('then', [then])], options)[0]!.accepted).toBe(false);
  });

  it('waits for an issuer only when that is all that is wrong, with every issuer not refused', async () => {
    // A warning about the input does not stop the wait.
    const noted = upload('noted', [i], {
      inputFindings: [{ code: 'input.note', severity: 'warning', message: 'text around the blocks' }],
    });
    expect(admit([], [noted], options)[0]!.waitingForIssuer).toBe(true);
    // Missing its issuer and expired: refused for good.
    const stale = await intermediate('CN=Adm Stale,O=Acme', r, {
      keySlot: 'adm-stale',
      notBefore: new Date(NOW.getTime() - 10 * 86_400_000),
      notAfter: new Date(NOW.getTime() - 1),
    });
    const [d] = admit([], [upload('stale', [stale])], options);
    expect(codes(d!.certificates[0]!.findings).sort()).toEqual(['cert.expired', 'chain.issuer-missing']);
    expect(d!.waitingForIssuer).toBe(false);
    // Two intermediates missing their issuers, one of which was refused in the batch: not held.
    const expiredRoot = await root('CN=Adm Root,O=Acme', {
      keySlot: 'adm-r',
      notAfter: new Date(NOW.getTime() - 1),
    });
    const k = await intermediate('CN=Adm K,O=Beta', other, { keySlot: 'adm-k' });
    const ds = admit([], [upload('root', [expiredRoot]), upload('ints', [k, i])], options);
    // (Refused with k in the first round, i kept the findings of that round: none.)
    expect(ds[1]!.certificates.map((c) => codes(c.findings))).toEqual([['chain.issuer-missing'], []]);
    expect(ds[1]!.waitingForIssuer).toBe(false);
  });

  it('gives the replace hint when one certificate of the upload collides', async () => {
    const rekeyed = await root('CN=Adm Root,O=Acme', { keySlot: 'adm-r2' });
    const [d] = admit([entry(r)], [upload('again', [other, rekeyed])], options);
    expect(d!.accepted).toBe(false);
    expect(codes(d!.findings)).toEqual(['truststore.replace-hint']);
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
    // The name is acme's: refused as a claim on it, without naming acme to beta.
    expect(codes(d!.certificates[0]!.findings)).toEqual(['ca.other-partner']);
    expect(d!.certificates[0]!.findings[0]!.message).toMatch(
      /^Another partner already has a CA named "CN=Adm Root,O=Acme"/,
    );
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

  it('rotates only with the uploads under replace/, in a batch with others', async () => {
    const otherRekeyed = await root('CN=Adm Other,O=Beta', { keySlot: 'adm-o2' });
    const old = entry(r, 'acme');
    const ds = admit(
      [old, entry(other, 'beta')],
      [
        upload('rot', [rekeyed], { replace: true, partner: 'acme' }),
        upload('plain', [otherRekeyed], { partner: 'beta' }),
      ],
      options,
    );
    expect(ds.map((d) => [d.id, d.accepted, d.replaces])).toEqual([
      ['rot', true, [old]],
      ['plain', false, []],
    ]);
    expect(codes(ds[1]!.certificates[0]!.findings)).toContain('truststore.duplicate-subject');
  });

  it('does not rotate a CA the replace upload sends again unchanged', () => {
    const [d] = admit([entry(r)], [upload('same', [r], { replace: true, partner: 'acme' })], options);
    expect(d!.accepted).toBe(true);
    expect(d!.replaces).toEqual([]);
    expect(d!.certificates[0]!.verdict).toBe('present');
  });

  it('rotates an intermediate under the root that stays', async () => {
    const reissued = await intermediate('CN=Adm Issuing,O=Acme', r, { keySlot: 'adm-i3' });
    const oldI = entry(i, 'acme');
    const [d] = admit(
      [entry(r, 'acme'), oldI],
      [upload('rot', [reissued], { replace: true, partner: 'acme' })],
      options,
    );
    expect(d!.accepted).toBe(true);
    expect(d!.replaces).toEqual([oldI]);
  });

  it('blames a breakage on the upload above the broken CA only, and names that CA', async () => {
    const third = await root('CN=Adm Third,O=Gamma', { keySlot: 'adm-t' });
    const extra = await root('CN=Adm Extra,O=Acme', { keySlot: 'adm-e' });
    const otherRekeyed = await root('CN=Adm Other,O=Beta', { keySlot: 'adm-o2' });
    const oldOther = entry(other, 'beta');
    const ds = admit(
      [entry(third, 'gamma'), oldOther, entry(r, 'acme'), entry(i, 'acme')],
      [
        upload('rot', [rekeyed, extra], { replace: true, partner: 'acme' }),
        upload('rot2', [otherRekeyed], { replace: true, partner: 'beta' }),
      ],
      options,
    );
    expect(ds.map((d) => [d.id, d.accepted, d.replaces])).toEqual([
      ['rot', false, []],
      ['rot2', true, [oldOther]],
    ]);
    expect(ds[0]!.findings).toMatchObject([
      {
        code: 'truststore.breaks-entry',
        severity: 'error',
        message: expect.stringMatching(
          /^Accepting this upload would leave CN=Adm Issuing,O=Acme \(partner acme/,
        ),
      },
    ]);
  });

  it('finds the upload that breaks a CA two levels below what it rotates', async () => {
    const R = await root('CN=Adm5 Root', { keySlot: 'adm5-r' });
    const P = await intermediate('CN=Adm5 Policy', R, { keySlot: 'adm5-p', pathLen: undefined });
    const I = await intermediate('CN=Adm5 Issuing', P, { keySlot: 'adm5-i' });
    const strict = await root('CN=Adm5 Root', { keySlot: 'adm5-r', pathLen: 1 });
    const [d] = admit(
      [R, P, I].map((x) => entry(x, 'acme')),
      [upload('strict', [strict], { replace: true, partner: 'acme' })],
      options,
    );
    expect(d!.accepted).toBe(false);
    expect(d!.findings).toMatchObject([
      {
        code: 'truststore.breaks-entry',
        message: expect.stringMatching(/leave CN=Adm5 Issuing .*chain\.path-length/),
      },
    ]);
  });
});

describe("another partner's CA", () => {
  // Beta's root is in the truststore for beta; beta's intermediate (a public certificate) is not yet.
  let betaRoot: Issued;
  let betaInt: Issued;
  let squat: Issued;
  beforeAll(async () => {
    betaRoot = await root('CN=Own Beta Root,O=Beta', { keySlot: 'own-br' });
    betaInt = await intermediate('CN=Own Beta Issuing,O=Beta', betaRoot, { keySlot: 'own-bi' });
    squat = await intermediate('CN=Own Beta Issuing,O=Beta', r, { keySlot: 'own-sq' });
  });
  const base = () => [entry(r, 'acme'), entry(i, 'acme'), entry(betaRoot, 'beta')];
  const claim = (d: ReturnType<typeof admit>[number]) =>
    d.certificates.flatMap((c) => c.findings).filter((f) => f.code === 'ca.other-partner');

  it("refuses a CA issued by another partner's CA: the owner must upload it, and the holder's name is not given", () => {
    const [d] = admit(base(), [upload('claim', [betaInt], { partner: 'acme' })], options);
    expect(d!.accepted).toBe(false);
    expect(d!.waitingForIssuer).toBe(false);
    expect(d!.certificates[0]!.verdict).toBe('rejected');
    expect(claim(d!)).toEqual([
      {
        code: 'ca.other-partner',
        severity: 'error',
        cert: { subject: 'CN=Own Beta Issuing,O=Beta', fingerprint: cert(betaInt).fingerprint },
        message: expect.stringMatching(
          /^Its issuer CN=Own Beta Root,O=Beta \(sha256 [0-9a-f]{16}…\) is in the truststore for another partner: .* that partner must upload it \(to its own inbox folder\)/,
        ),
      },
    ]);
    // The owner's own upload of it is accepted.
    const [own] = admit(base(), [upload('own', [betaInt], { partner: 'beta' })], options);
    expect(own!.accepted).toBe(true);
    expect(own!.certificates[0]!.verdict).toBe('added');
  });

  it("refuses a CA below another partner's CA through the upload's own chain", async () => {
    const sub = await intermediate('CN=Own Beta Sub,O=Beta', betaInt, { keySlot: 'own-bs' });
    const [d] = admit(base(), [upload('claim', [sub, betaInt], { partner: 'acme' })], options);
    expect(d!.accepted).toBe(false);
    expect(d!.certificates.map((c) => codes(c.findings))).toEqual([
      ['ca.other-partner'],
      ['ca.other-partner'],
    ]);
  });

  it("refuses a CA bearing the name of another partner's CA (name squatting)", () => {
    const held = [...base(), entry(betaInt, 'beta')];
    const [d] = admit(held, [upload('squat', [squat], { partner: 'acme' })], options);
    expect(d!.accepted).toBe(false);
    expect(claim(d!)[0]!.message).toMatch(
      /^Another partner already has a CA named "CN=Own Beta Issuing,O=Beta" in the truststore .*acme cannot add another CA with that name/,
    );
    // Squatted first, the owner's real one is refused naming who holds the name and what to do.
    const [late] = admit(
      [...base(), entry(squat, 'acme')],
      [upload('real', [betaInt], { partner: 'beta' })],
      options,
    );
    expect(late!.accepted).toBe(false);
    expect(claim(late!)[0]!.message).toMatch(
      /^Another partner already has a CA named .* an operator must first remove the other partner's CA \(trustroll remove --fingerprint [0-9a-f]{64}\)/,
    );
    expect(claim(late!)[0]!.message).not.toMatch(/acme/);
  });

  it('says another partner holds a CA uploaded again, instead of accepting it silently', () => {
    const held = [...base(), entry(betaInt, 'acme')];
    const [d] = admit(held, [upload('late', [betaInt], { partner: 'beta' })], options);
    expect(d!.accepted).toBe(false);
    expect(d!.certificates[0]!.verdict).toBe('present');
    expect(claim(d!)[0]!.message).toMatch(
      /^This CA is already in the truststore for another partner: .*remove it from the other partner \(trustroll remove --fingerprint [0-9a-f]{64}\)/,
    );
    expect(claim(d!)[0]!.message).not.toMatch(/acme/);
  });

  it('refuses a claim on a CA whose issuer another partner uploads in the same batch, and the same CA sent by two partners', () => {
    const ds = admit(
      [entry(r, 'acme'), entry(i, 'acme')],
      [upload('claim', [betaInt], { partner: 'acme' }), upload('owner', [betaRoot], { partner: 'beta' })],
      options,
    );
    expect(ds.map((d) => [d.id, d.accepted])).toEqual([
      ['claim', false],
      ['owner', true],
    ]);
    expect(claim(ds[0]!)[0]!.message).toMatch(
      /^Its issuer "CN=Own Beta Root,O=Beta" is uploaded by another partner in the same batch: .*that partner must upload it \(to its own inbox folder\)/,
    );
    const both = admit(
      [],
      [upload('a', [betaRoot], { partner: 'acme' }), upload('b', [betaRoot], { partner: 'beta' })],
      options,
    );
    expect(both.map((d) => d.accepted)).toEqual([false, false]);
    expect(claim(both[1]!)[0]!.message).toMatch(/^Another partner sent this same CA in the same batch/);
    expect(claim(both[1]!)[0]!.message).not.toMatch(/acme/);
    // One partner sending it twice in a batch is no claim.
    const twice = admit(
      [],
      [upload('a', [betaRoot], { partner: 'beta' }), upload('b', [betaRoot, betaInt], { partner: 'beta' })],
      options,
    );
    expect(twice.map((d) => d.accepted)).toEqual([true, true]);
  });

  it('says what is wrong when the CA above was recorded as partner "unknown" by a repair', () => {
    const [d] = admit(
      [entry(betaRoot, 'unknown')],
      [upload('claim', [betaInt], { partner: 'beta' })],
      options,
    );
    expect(d!.accepted).toBe(false);
    expect(claim(d!)[0]!.message).toMatch(
      /for another partner: .*\(That CA's provenance was lost when the store was repaired: an operator removes it, and its owner uploads it again\.\)$/,
    );
  });

  describe('a CA removed lately from another partner (retired, deciding its clients until then)', () => {
    const until = '2026-12-05T10:30:00.000Z';
    const retired = () => [{ entry: entry(betaRoot, 'beta'), until }];
    const note =
      "It was removed from that partner lately, but the door still decides its clients as that partner's until 2026-12-05 10:30 UTC (targets may still serve a version with it): no other partner may take it, its name or its place before then. Upload again after that time.";
    const held = () => [entry(r, 'acme'), entry(i, 'acme')];
    const judged = (certs: Issued[], partner: string, more: Entry[] = []) => {
      const [d] = admit([...held(), ...more], [upload('claim', certs, { partner })], {
        ...options,
        retired: retired(),
      });
      return { accepted: d!.accepted, messages: claim(d!).map((f) => f.message) };
    };

    it('refuses its copy, a CA of its name, and a CA under it from another partner, saying until when', async () => {
      expect(judged([betaRoot], 'acme')).toEqual({
        accepted: false,
        messages: [`This CA is another partner's. ${note}`],
      });
      const lookAlike = await root('CN=Own Beta Root,O=Beta', { keySlot: 'own-lookalike' });
      expect(judged([lookAlike], 'acme')).toEqual({
        accepted: false,
        messages: [
          `Another partner had a CA named "CN=Own Beta Root,O=Beta" (CN=Own Beta Root,O=Beta (sha256 ${cert(betaRoot).fingerprint.slice(0, 16)}…)). ${note}`,
        ],
      });
      expect(judged([betaInt], 'acme')).toEqual({
        accepted: false,
        messages: [
          `Its issuer CN=Own Beta Root,O=Beta (sha256 ${cert(betaRoot).fingerprint.slice(0, 16)}…) is another partner's. ${note}`,
        ],
      });
      // Its own partner may upload it again, and CAs under it.
      expect(judged([betaRoot, betaInt], 'beta')).toEqual({ accepted: true, messages: [] });
    });

    it('is judged as held, not as retired, once it is in the truststore again', () => {
      expect(judged([betaRoot], 'acme', [entry(betaRoot, 'beta')]).messages).toEqual([
        expect.stringMatching(
          /^This CA is already in the truststore for another partner: .*otherwise do not upload it\.$/,
        ),
      ]);
    });
  });

  it("judges no claim for an upload without a partner, in a batch with a partner's", async () => {
    const ds = admit(
      base(),
      [upload('anon', [betaInt, betaRoot]), upload('claim', [betaInt], { partner: 'acme' })],
      options,
    );
    expect(ds.map((d) => [d.id, d.accepted, claim(d).length])).toEqual([
      ['anon', true, 0],
      ['claim', false, 1],
    ]);
    // What an upload without a partner sends is no other partner's in the same batch.
    const sent = admit(
      [],
      [upload('anon', [betaRoot]), upload('owner', [betaRoot], { partner: 'beta' })],
      options,
    );
    expect(sent.map((d) => d.accepted)).toEqual([true, true]);
  });

  it('judges no claim on an intermediate whose issuer nobody has or sends: it waits for its issuer', async () => {
    const orphanRoot = await root('CN=Nobody Root,O=Nobody', { keySlot: 'own-nobody' });
    const orphan = await intermediate('CN=Nobody Issuing,O=Nobody', orphanRoot, { keySlot: 'own-nobody-i' });
    const [d] = admit(base(), [upload('orphan', [orphan], { partner: 'acme' })], options);
    expect(claim(d!)).toEqual([]);
    expect(d!.waitingForIssuer).toBe(true);
  });

  it("blames only the cross-certificate under another partner's CA, not the root of the same name beside it", async () => {
    const own = await root('CN=Own Cross Root,O=Acme', { keySlot: 'own-cross' });
    const cross = await intermediate('CN=Own Cross Root,O=Acme', betaRoot, { keySlot: 'own-cross' });
    const [d] = admit(base(), [upload('cross', [own, cross], { partner: 'acme' })], options);
    expect(d!.accepted).toBe(false);
    expect(d!.certificates.map((c) => codes(c.findings).filter((x) => x === 'ca.other-partner'))).toEqual([
      [],
      ['ca.other-partner'],
    ]);
  });

  it('names, for operators, the partner holding each claimed CA (the first by name of several)', () => {
    const holders = new Map<string, string>();
    partnerClaims(
      base(),
      [
        upload('a', [betaInt], { partner: 'acme' }),
        upload('c', [other], { partner: 'carol' }),
        upload('b', [other], { partner: 'beta' }),
        upload('d', [other], { partner: 'dave' }),
      ],
      holders,
    );
    expect(Object.fromEntries(holders)).toEqual({
      [cert(betaInt).fingerprint]: 'beta',
      // Dave's claim was judged last: of carol and beta, beta is named.
      [cert(other).fingerprint]: 'beta',
    });
  });

  it('keeps accepting a partner re-uploading its own CAs, and its renewal through replace/', async () => {
    const [again] = admit(base(), [upload('again', [r, i], { partner: 'acme' })], options);
    expect(again!.accepted).toBe(true);
    expect(again!.certificates.map((c) => codes(c.findings))).toEqual([
      ['cert.duplicate'],
      ['cert.duplicate'],
    ]);
    const renewed = await intermediate('CN=Adm Issuing,O=Acme', r, { keySlot: 'own-renew' });
    const [rot] = admit(base(), [upload('rot', [renewed], { replace: true, partner: 'acme' })], options);
    expect(rot!.accepted).toBe(true);
    expect(rot!.replaces.map((e) => e.subject)).toEqual(['CN=Adm Issuing,O=Acme']);
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

  it('says to send again later when the upload fits the truststore alone, exactly', () => {
    const first = pemBytes(other);
    const second = pemBytes(r, i);
    const base = MAX_TRUSTSTORE_BYTES - second;
    const ds = admit([filler(base)], [upload('a', [other]), upload('b', [r, i])], options);
    expect(ds.map((d) => d.accepted)).toEqual([true, false]);
    expect(ds[1]!.findings[0]!.message).toContain(`(${MAX_TRUSTSTORE_BYTES + first} bytes)`);
    expect(ds[1]!.findings[0]!.message).toMatch(/: send it again later, or have unused CAs removed first\.$/);
  });

  it('refuses a rotation that would take the truststore over the limit for its size', async () => {
    const rekeyed = await root('CN=Adm Root,O=Acme', { keySlot: 'adm-r2' });
    const base = MAX_TRUSTSTORE_BYTES - pemBytes(r);
    const [d] = admit(
      [filler(base), entry(r, 'acme')],
      [upload('rot', [rekeyed, other], { replace: true, partner: 'acme' })],
      options,
    );
    expect(d!.accepted).toBe(false);
    expect(codes(d!.findings)).toEqual(['truststore.too-large']);
  });
});
