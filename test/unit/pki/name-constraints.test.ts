import { beforeAll, describe, expect, it } from 'vitest';
import type { CertSpec, GeneralNameSpec, SubtreeSpec } from '../../../shared/pki/builder.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { type VerifyResult, verifyClient } from '../../../shared/pki/verify.js';
import { runOpenssl } from '../../conformance/limbo.js';
import { type Issued, intermediate, issue, leaf, NOW, root } from '../../fixtures/pki.js';

/**
 * Name constraints of the kinds beyond DNS, IP and directory names — email (rfc822Name), URI,
 * otherName and the kinds OpenSSL cannot match — judged as OpenSSL 3 judges them. Every verdict is
 * also put to `openssl verify -purpose sslclient` on the same certificates: diagnose must say what
 * the endpoint says.
 */
const p = (i: Issued) => parseCertificate(i.der);

let r: Issued;
beforeAll(async () => {
  r = await root('CN=NC Root,O=NC');
});

let cas = 0;
/** A CA under the root with these constraints. */
const ca = (nameConstraints: CertSpec['nameConstraints']) =>
  intermediate(`CN=NC CA ${++cas},O=NC`, r, { pathLen: undefined, nameConstraints });
const permits = (...bases: SubtreeSpec[]) => ca({ permitted: bases });
const excludes = (...bases: SubtreeSpec[]) => ca({ excluded: bases });

/**
 * Mutation testing runs these tests once per mutant of verify.ts: there the verdicts asserted below
 * kill the mutants, and OpenSSL's (which no mutant changes) is not asked again each time.
 */
const ASK_OPENSSL = process.env.TRUSTROLL_MUTATION_SCOPE === undefined;

/** Our verdict on `client` with these CAs under the root, checked against openssl verify's. */
const judgedClient = (cas: readonly Issued[], client: Issued): VerifyResult => {
  const ours = verifyClient({
    leaf: p(client),
    sent: [],
    trusted: [p(r), ...cas.map(p)],
    at: NOW,
    purpose: 'clientAuth',
  });
  if (!ASK_OPENSSL) return ours;
  const openssl = runOpenssl({
    id: 'name-constraints',
    trusted_certs: [r.pem, ...cas.map((x) => x.pem)],
    untrusted_intermediates: [],
    peer_certificate: client.pem,
    validation_time: NOW.toISOString(),
    max_chain_depth: null,
    expected_result: 'SUCCESS',
    validation_kind: 'CLIENT',
    crls: [],
  });
  expect(
    { verdict: ours.verdict, reasons: ours.reasons.map((x) => x.code) },
    `openssl verify says: ${openssl.output}`,
  ).toEqual({ verdict: openssl.ok ? 'accept' : 'reject', reasons: openssl.ok ? [] : ['name-constraints'] });
  return ours;
};

/** Our verdict on a client of `issuer` with these names, checked against openssl verify's. */
const judged = async (
  issuer: Issued,
  names: readonly GeneralNameSpec[],
  subject = 'CN=nc client,O=NC',
): Promise<VerifyResult> =>
  judgedClient([issuer], await leaf(subject, issuer, names.length > 0 ? { altNames: names } : {}));
const accepted = async (issuer: Issued, names: readonly GeneralNameSpec[], subject?: string) =>
  expect((await judged(issuer, names, subject)).verdict).toBe('accept');
/** Refused, with the one reason's message. */
const refused = async (issuer: Issued, names: readonly GeneralNameSpec[], subject?: string) => {
  const res = await judged(issuer, names, subject);
  expect(res.verdict).toBe('reject');
  return res.reasons[0]!.message;
};

describe('email (rfc822Name) constraints', () => {
  it('a mailbox: the part before @ exactly (case included), the host in any case', async () => {
    const mailbox = await permits({ email: 'user@example.com' });
    await accepted(mailbox, [{ email: 'user@example.com' }]);
    await accepted(mailbox, [{ email: 'user@EXAMPLE.com' }]);
    expect(await refused(mailbox, [{ email: 'User@example.com' }])).toBe(
      'The email address User@example.com (subjectAltName) of CN=nc client,O=NC is outside the email addresses CN=NC CA 1,O=NC may issue for (user@example.com): "permitted subtree violation". OpenSSL compares the part before @ case-sensitively: issue it as user@example.com.',
    );
    expect(await refused(mailbox, [{ email: 'other@example.com' }])).toBe(
      'The email address other@example.com (subjectAltName) of CN=nc client,O=NC is outside the email addresses CN=NC CA 1,O=NC may issue for (user@example.com): "permitted subtree violation".',
    );
    // A base that is only "@host" says nothing of the part before @.
    await accepted(await permits({ email: '@example.com' }), [{ email: 'Anyone@example.com' }]);
  });

  it('a host: any mailbox at that host, not below it', async () => {
    const host = await permits({ email: 'example.com' });
    await accepted(host, [{ email: 'Any@Example.COM' }]);
    expect(await refused(host, [{ email: 'a@sub.example.com' }])).toMatch(
      /^The email address a@sub.example.com \(subjectAltName\) of CN=nc client,O=NC is outside the email addresses CN=NC CA \d+,O=NC may issue for \(example.com\)/,
    );
    // Every address counts, not only the first.
    await refused(host, [{ email: 'a@example.com' }, { email: 'b@example.org' }]);
    // The address is split at its last @.
    await accepted(host, [{ email: 'a@b@example.com' }]);
  });

  it('a .domain: mailboxes at hosts below it, not at the domain itself', async () => {
    const domain = await permits({ email: '.example.com' });
    await accepted(domain, [{ email: 'a@sub.EXAMPLE.com' }]);
    await refused(domain, [{ email: 'a@example.com' }]);
    await refused(domain, [{ email: 'a@xexample.com' }]);
    // Two permitted bases: one match is enough.
    await accepted(await permits({ email: 'example.org' }, { email: '.example.com' }), [
      { email: 'a@b.example.com' },
    ]);
  });

  it('excluded: a match refuses, a local part differing in case does not match', async () => {
    const host = await excludes({ email: 'example.com' });
    expect(await refused(host, [{ email: 'a@EXAMPLE.com' }])).toMatch(
      /^The email address a@EXAMPLE.com \(subjectAltName\) of CN=nc client,O=NC is excluded by the name constraints of CN=NC CA \d+,O=NC\.$/,
    );
    await accepted(host, [{ email: 'a@example.org' }]);
    const mailbox = await excludes({ email: 'user@example.com' });
    await refused(mailbox, [{ email: 'user@example.com' }]);
    await accepted(mailbox, [{ email: 'USER@example.com' }]);
  });

  it('checks the subject’s emailAddress attributes as email addresses, as OpenSSL does', async () => {
    const host = await permits({ email: 'example.com' });
    expect(await refused(host, [], 'CN=mail only,E=a@other.org')).toMatch(
      /^The email address a@other.org \(the subject’s emailAddress\) of CN=mail only,emailAddress=a@other.org is outside the email addresses CN=NC CA \d+,O=NC may issue for \(example.com\)/,
    );
    await accepted(host, [], 'CN=mail only,E=a@example.com');
    // Under DNS constraints alone an address is not judged.
    await accepted(await permits({ dns: 'example.com' }), [{ email: 'a@other.org' }], 'CN=x,E=b@other.org');
  });

  it('refuses an emailAddress that is not an IA5String under any name constraints', async () => {
    const dnsOnly = await permits({ dns: 'example.com' });
    const client = await issue({
      // In DER order: the emailAddress as a UTF8String, then the common name.
      subject: [
        { '1.2.840.113549.1.9.1': [{ utf8String: 'a@example.com' }] },
        { CN: [{ utf8String: 'utf8 mail' }] },
      ],
      issuer: dnsOnly,
      ca: false,
      eku: ['1.3.6.1.5.5.7.3.2'],
    });
    expect(p(client).subjectEmails).toEqual([{ value: 'a@example.com', ia5: false }]);
    const res = verifyClient({
      leaf: p(client),
      sent: [],
      trusted: [p(r), p(dnsOnly)],
      at: NOW,
      purpose: 'clientAuth',
    });
    expect(res.reasons[0]?.message).toMatch(
      /holds an emailAddress that is not an IA5String, which OpenSSL refuses under the name constraints of CN=NC CA \d+,O=NC \("unsupported or invalid name syntax"\)/,
    );
    const openssl = runOpenssl({
      id: 'utf8 emailAddress',
      trusted_certs: [r.pem, dnsOnly.pem],
      untrusted_intermediates: [],
      peer_certificate: client.pem,
      validation_time: NOW.toISOString(),
      max_chain_depth: null,
      expected_result: 'FAILURE',
      validation_kind: 'CLIENT',
      crls: [],
    });
    expect(openssl.output).toContain('unsupported or invalid name syntax');
    expect(openssl.ok).toBe(false);
  });

  it('refuses an address without @ under email constraints only', async () => {
    expect(await refused(await permits({ email: 'example.com' }), [{ email: 'no-at-sign' }])).toMatch(
      /^The email address no-at-sign \(subjectAltName\) of CN=nc client,O=NC cannot be matched against the email constraints of CN=NC CA \d+,O=NC \(it has no @\): OpenSSL refuses it \("unsupported or invalid name syntax"\)/,
    );
    await refused(await excludes({ email: 'example.com' }), [{ email: 'no-at-sign' }]);
    await accepted(await permits({ uri: 'example.com' }), [{ email: 'no-at-sign' }]);
  });
});

describe('URI constraints', () => {
  it('a host: the URI’s host itself (port and path aside), in any case, not hosts below it', async () => {
    const host = await permits({ uri: 'example.com' });
    await accepted(host, [{ uri: 'https://example.com/path' }]);
    await accepted(host, [{ uri: 'https://EXAMPLE.com:8443/x' }]);
    await accepted(host, [{ uri: 'spiffe://example.com/workload' }]);
    expect(await refused(host, [{ uri: 'https://a.example.com/' }])).toMatch(
      /^The URI https:\/\/a.example.com\/ of CN=nc client,O=NC is outside the URI hosts CN=NC CA \d+,O=NC may issue for \(example.com\): "permitted subtree violation"\.$/,
    );
    // OpenSSL does not set userinfo or a query apart from the host.
    await refused(host, [{ uri: 'https://user@example.com/' }]);
    await refused(host, [{ uri: 'https://example.com?q=1' }]);
  });

  it('a .domain: hosts below it only', async () => {
    const domain = await permits({ uri: '.example.com' });
    await accepted(domain, [{ uri: 'https://a.Example.com/' }]);
    await refused(domain, [{ uri: 'https://example.com/' }]);
    const excluded = await excludes({ uri: '.example.com' });
    expect(await refused(excluded, [{ uri: 'https://a.example.com' }])).toMatch(
      /^The URI https:\/\/a.example.com of CN=nc client,O=NC is excluded by the name constraints of CN=NC CA \d+,O=NC\.$/,
    );
    await accepted(excluded, [{ uri: 'https://example.org' }]);
  });

  it('refuses a URI without a host under URI constraints, permitted or excluded', async () => {
    const host = await permits({ uri: 'example.com' });
    expect(await refused(host, [{ uri: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66' }])).toMatch(
      /^The URI urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66 of CN=nc client,O=NC cannot be matched against the URI constraints of CN=NC CA \d+,O=NC \(it has no scheme:\/\/host\): OpenSSL refuses it \("unsupported or invalid name syntax"\)\. Reissue the certificate without that URI or with one of the form scheme:\/\/host\/…, or the CA without URI constraints\.$/,
    );
    expect(await refused(host, [{ uri: 'file:///etc/passwd' }])).toContain('(it has no host)');
    await refused(host, [{ uri: '//example.com/' }]);
    await refused(await excludes({ uri: 'example.org' }), [{ uri: 'urn:x' }]);
    // Without URI constraints, such a URI is not judged.
    await accepted(await permits({ dns: 'example.com' }), [{ uri: 'urn:x' }]);
  });

  it('compares an IP address host as text, against a base written the same way', async () => {
    await refused(await permits({ uri: 'example.com' }), [{ uri: 'https://10.0.0.1/' }]);
    await accepted(await permits({ uri: '10.0.0.1' }), [{ uri: 'https://10.0.0.1:8443/' }]);
    // An IPv6 host ends at its first colon for OpenSSL: it matches no usual base.
    await refused(await permits({ uri: 'example.com' }), [{ uri: 'https://[2001:db8::1]/' }]);
  });
});

describe('otherName and the kinds OpenSSL cannot match', () => {
  const UPN = '1.3.6.1.4.1.311.20.2.3';
  it('refuses a client with an otherName of a type its CA constrains, permitted or excluded', async () => {
    const upn = await permits({ otherName: UPN, utf8: 'a@example.com' });
    expect(await refused(upn, [{ otherName: UPN, utf8: 'a@example.com' }])).toMatch(
      /^CN=nc client,O=NC has a subjectAltName otherName 1.3.6.1.4.1.311.20.2.3 and CN=NC CA \d+,O=NC constrains names of that kind, which OpenSSL does not support \("unsupported name constraint type"\): it refuses every such certificate below that CA\. Reissue the client without that name, or the CA without that constraint\.$/,
    );
    await refused(await excludes({ otherName: UPN, utf8: 'x@example.org' }), [
      { otherName: UPN, utf8: 'a@example.com' },
    ]);
    // Without such a name, or with an otherName of another type, the constraint does nothing.
    await accepted(upn, []);
    await accepted(upn, [{ otherName: '1.2.3.4', utf8: 'a@example.com' }]);
    // Nor does an otherName under constraints of other kinds.
    await accepted(await permits({ dns: 'example.com' }), [{ otherName: UPN, utf8: 'a@other.org' }]);
  });

  it('refuses a registeredID under registeredID constraints', async () => {
    const rid = await permits({ registeredId: '1.2.3.4' });
    await refused(rid, [{ registeredId: '1.2.3.4' }]);
    await accepted(rid, [{ dns: 'a.example.com' }]);
  });

  it('refuses a name whose kind is constrained with a minimum or maximum distance', async () => {
    const bounded = await permits({ dns: 'example.com', maximum: 2 });
    expect(await refused(bounded, [{ dns: 'a.example.com' }])).toMatch(
      /^CN=NC CA \d+,O=NC constrains DNS names with a minimum or maximum distance, which OpenSSL does not support/,
    );
    // A client without a name of that kind is not concerned.
    await accepted(bounded, [{ email: 'a@example.com' }]);
    await accepted(await permits({ email: 'example.com', minimum: 0 }), [{ email: 'a@example.com' }]);
    await refused(await excludes({ email: 'example.org', minimum: 1 }), [{ email: 'a@example.com' }]);
    // 256 is INTEGER 01 00: a zero byte, but no zero minimum.
    await refused(await excludes({ email: 'example.org', minimum: 256 }), [{ email: 'a@example.com' }]);
  });
});

describe('SmtpUTF8Mailbox (internationalized email) under email constraints', () => {
  const SMTP = '1.3.6.1.5.5.7.8.9';
  const mailbox = (value: string): GeneralNameSpec => ({ otherName: SMTP, utf8: value });
  it('matches its host against host constraints, and never a mailbox or .domain one (OpenSSL 3.0)', async () => {
    const host = await permits({ email: 'EXAMPLE.com' });
    await accepted(host, [mailbox('üser@example.COM')]);
    expect(await refused(host, [mailbox('üser@other.org')])).toMatch(
      /^The SmtpUTF8Mailbox üser@other.org of CN=nc client,O=NC .* is outside the email addresses CN=NC CA \d+,O=NC may issue for \(EXAMPLE.com\)/,
    );
    await refused(await permits({ email: 'user@example.com' }), [mailbox('user@example.com')]);
    await refused(await permits({ email: '.example.com' }), [mailbox('üser@a.example.com')]);
    await refused(await excludes({ email: 'example.com' }), [mailbox('üser@example.com')]);
    // Not a UTF8String: refused.
    const ia5 = new Uint8Array([0x16, 16, ...Buffer.from('user@example.com')]);
    await refused(host, [{ otherName: SMTP, der: ia5 }]);
    // Under DNS constraints it is not judged.
    await accepted(await permits({ dns: 'example.com' }), [mailbox('üser@other.org')]);
  });

  it('decodes an internationalized (xn--) host constraint as OpenSSL does', async () => {
    const idn = await permits({ email: 'xn--bcher-kva.example' });
    await accepted(idn, [mailbox('a@bücher.example')]);
    await accepted(idn, [mailbox('a@BÜCHER.example'.replace('Ü', 'ü'))]);
    await refused(idn, [mailbox('a@bucher.example')]);
    await refused(idn, [mailbox('a@xn--bcher-kva.example')]);
    // Only a lowercase prefix is decoded.
    await refused(await permits({ email: 'XN--bcher-kva.example' }), [mailbox('a@bücher.example')]);
    // A constraint that is no Punycode refuses every such name below it.
    expect(await refused(await permits({ email: 'xn---.example' }), [mailbox('a@b.example')])).toContain(
      '(the constraint xn---.example cannot be converted to Unicode labels)',
    );
    await refused(await permits({ email: 'xn--99999999999.example' }), [mailbox('a@b.example')]);
    // An ASCII address is an rfc822Name, matched against the A-label as written.
    await accepted(idn, [{ email: 'a@xn--bcher-kva.example' }]);
  });

  it('decodes labels at Punycode’s bounds as OpenSSL does (adapt’s loop bound, n divided before its overflow check, U+10FFFF)', async () => {
    // The labels of punycode.test.ts that reach each bound exactly, decoded by the endpoint's OpenSSL.
    await accepted(await permits({ email: 'xn--abc-d91s5z.example' }), [
      mailbox('a@\ufa00abc\uf954.example'),
    ]);
    await accepted(await permits({ email: 'xn--mt5kca.example' }), [mailbox('a@\u{27600}\u{27601}.example')]);
    const hundred = 'a'.repeat(100);
    await accepted(await permits({ email: `xn--${hundred}-4s0334b.example` }), [
      mailbox(`a@${hundred}\u{80000}.example`),
    ]);
    await accepted(await permits({ email: 'xn--dn32g.example' }), [mailbox('a@\u{10ffff}.example')]);
    // U+110000, and 2^32 - 1: no UTF-8 for them, so no name is within the constraint.
    expect(await refused(await permits({ email: 'xn--en32g.example' }), [mailbox('a@b.example')])).toContain(
      '(the constraint xn--en32g.example cannot be converted to Unicode labels)',
    );
    await refused(await permits({ email: 'xn--ww902716a.example' }), [mailbox('a@b.example')]);
  });

  it('warns that OpenSSL ignores SmtpUTF8Mailbox constraints', async () => {
    const smtpOnly = await permits({ otherName: SMTP, utf8: 'example.com' });
    const res = await judged(smtpOnly, [mailbox('üser@other.org')]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings.map((w) => w.code)).toEqual(['ca.name-constraints-unchecked']);
    expect(res.warnings[0]!.message).toMatch(
      /^CN=NC CA \d+,O=NC constrains SmtpUTF8Mailbox \(internationalized email\) names, which OpenSSL, and so the endpoint and API Gateway, does not apply/,
    );
  });
});

describe('directory names of subjectAltName', () => {
  it('are held to directoryName constraints like the subject', async () => {
    const dir = await permits({ dir: 'O=NC' });
    await accepted(dir, [{ dir: 'CN=someone,O=NC' }]);
    expect(await refused(dir, [{ dir: 'CN=someone,O=Other' }])).toMatch(
      /^A directory name in the subjectAltName of CN=nc client,O=NC is outside the names CN=NC CA \d+,O=NC may issue for: "permitted subtree violation"\.$/,
    );
  });
});

/**
 * The edges of each matching rule, as OpenSSL 3.0's nc_match and its helpers draw them (found by
 * mutation testing: each case is one a plausible slip in verify.ts would judge otherwise).
 */
describe('edges of the matching rules', () => {
  it('email: an empty local part counts, a .domain or mailbox base is what it is', async () => {
    await accepted(await permits({ email: 'example.com' }), [{ email: '@example.com' }]);
    // A mailbox base whose local part starts with a dot is a mailbox, not a .domain.
    await accepted(await permits({ email: '.user@example.com' }), [{ email: '.user@example.com' }]);
    // A base that misses lets the next one decide, permitted or excluded.
    await accepted(await permits({ email: '.example.org' }, { email: 'example.com' }), [
      { email: 'a@example.com' },
    ]);
    await accepted(await excludes({ email: '.example.org' }), [{ email: 'a@example.com' }]);
    await accepted(await excludes({ email: 'b@example.com' }, { email: 'example.org' }), [
      { email: 'a@example.com' },
    ]);
    // Every permitted base is named.
    expect(
      await refused(await permits({ email: 'example.org' }, { email: '.example.net' }), [
        { email: 'a@example.com' },
      ]),
    ).toContain('may issue for (example.org, .example.net)');
  });

  it('email: a NUL byte in the local part of a mailbox comparison cannot be judged', async () => {
    // Under an excluded mailbox of the same length: refused, where a plain comparison would miss.
    expect(
      await refused(await excludes({ email: 'ab@example.com' }), [{ email: 'a\0@example.com' }]),
    ).toContain('(it holds a NUL byte)');
    // Local parts of different lengths are a miss, before any NUL is looked at.
    await accepted(await permits({ email: 'abc@example.com' }, { email: 'example.com' }), [
      { email: 'a\0@example.com' },
    ]);
  });

  it('URI: scheme:// is required exactly, an empty scheme is not', async () => {
    const host = await permits({ uri: 'example.com' });
    await accepted(host, [{ uri: '://example.com/' }]);
    await refused(host, [{ uri: 'a:x/example.com' }]);
    await refused(host, [{ uri: 'a:/xexample.com' }]);
    expect(await refused(host, [{ uri: 'x://' }])).toContain('(it has no host)');
    // A .domain base matches hosts below it, not a host that is the base, dot included.
    await refused(await permits({ uri: '.example.com' }), [{ uri: 'https://.example.com/' }]);
    await accepted(await excludes({ uri: '.example.com' }), [{ uri: 'https://.example.com/' }]);
    expect(
      await refused(await permits({ uri: 'example.org' }, { uri: '.example.net' }), [
        { uri: 'https://example.com/' },
      ]),
    ).toContain('may issue for (example.org, .example.net)');
  });

  it('SmtpUTF8Mailbox: an empty local part counts, no @ cannot be judged, a .domain base takes a second dot', async () => {
    const SMTP = '1.3.6.1.5.5.7.8.9';
    const mailbox = (value: string): GeneralNameSpec => ({ otherName: SMTP, utf8: value });
    const host = await permits({ email: 'example.com' });
    await accepted(host, [mailbox('@example.com')]);
    expect(await refused(host, [mailbox('example.com')])).toContain('(it has no @)');
    const ia5 = new Uint8Array([0x16, 16, ...Buffer.from('user@example.com')]);
    expect(await refused(host, [{ otherName: SMTP, der: ia5 }])).toContain('(it is not a UTF8String)');
    // OpenSSL 3.0 puts a dot before the decoded base, which keeps its own: "..example.com".
    await accepted(await permits({ email: '.example.com' }), [mailbox('üser@a..example.com')]);
    await accepted(await excludes({ email: '.example.org' }), [mailbox('üser@example.com')]);
    expect(await refused(await excludes({ email: 'example.com' }), [mailbox('üser@example.com')])).toMatch(
      /^The SmtpUTF8Mailbox üser@example.com of CN=nc client,O=NC \(.*\) is excluded by the name constraints of CN=NC CA \d+,O=NC\.$/,
    );
    expect(
      await refused(await permits({ email: 'example.org' }, { email: 'example.net' }), [
        mailbox('üser@example.com'),
      ]),
    ).toContain('may issue for (example.org, example.net)');
    // A NUL byte in an email constraint: such a name below it cannot be judged.
    expect(
      await refused(await excludes({ email: 'exa\0mple.org' }), [mailbox('üser@example.com')]),
    ).toContain('(the constraint holds a NUL byte)');
  });

  it('a subtree with a minimum or maximum refuses names of its own kind only, each kind', async () => {
    const bounded = (base: SubtreeSpec) => permits({ ...base, maximum: 1 });
    // Directory names: the subject (when not empty) and those of subjectAltName.
    const dir = await bounded({ dir: 'O=NC' });
    expect(await refused(dir, [])).toMatch(
      /^CN=NC CA \d+,O=NC constrains directory name names with a minimum/,
    );
    await accepted(dir, [{ dns: 'a.example.com' }], '');
    await refused(dir, [{ dir: 'CN=someone,O=NC' }], '');
    // Email: an address of subjectAltName, of the subject, or an SmtpUTF8Mailbox.
    const email = await bounded({ email: 'example.com' });
    await accepted(email, [{ dns: 'a.example.com' }]);
    await refused(email, [
      { email: 'a@example.com' },
      { otherName: '1.3.6.1.5.5.7.8.9', utf8: 'ü@example.com' },
    ]);
    const uri = await bounded({ uri: 'example.com' });
    await refused(uri, [{ uri: 'https://example.com/' }]);
    await accepted(uri, [{ dns: 'a.example.com' }]);
  });

  it('a subtree of IP addresses with a maximum refuses a client with an IP address only', async () => {
    // GeneralSubtree { iPAddress 10.0.0.0/8, maximum [1] 1 }: the builder writes no IP subtrees.
    const general = [0x87, 0x08, 10, 0, 0, 0, 255, 0, 0, 0, 0x81, 0x01, 0x01];
    const permitted = [0xa0, general.length + 2, 0x30, general.length, ...general];
    const ipCa = await intermediate(`CN=NC CA ${++cas},O=NC`, r, {
      pathLen: undefined,
      extraExtensions: [
        { oid: '2.5.29.30', value: new Uint8Array([0x30, permitted.length, ...permitted]), critical: true },
      ],
    });
    const client = (spec: Partial<CertSpec>) => leaf('CN=nc client,O=NC', ipCa, spec);
    expect(judgedClient([ipCa], await client({ ips: ['10.1.2.3'] })).reasons[0]?.message).toMatch(
      /constrains IP address names with a minimum or maximum distance/,
    );
    expect(judgedClient([ipCa], await client({ dns: ['a.example.com'] })).verdict).toBe('accept');
    // Without a subjectAltName at all.
    expect(judgedClient([ipCa], await client({})).verdict).toBe('accept');
  });

  it('a subject that is empty is no directory name; one in subjectAltName is named as such', async () => {
    const dir = await permits({ dir: 'O=NC' });
    expect(await refused(dir, [{ dir: 'CN=someone,O=Other' }], '')).toMatch(
      /^A directory name in the subjectAltName of {2}is outside the names CN=NC CA \d+,O=NC may issue for/,
    );
    await accepted(dir, [{ dns: 'a.example.com' }], '');
  });

  it('judges a CA below the constraining one by its own names, never by its common name', async () => {
    const dnsCa = await permits({ dns: 'example.com' });
    const sub = await intermediate('CN=ca.other.org,O=NC', dnsCa, { pathLen: undefined });
    const client = await leaf('CN=nc client,O=NC', sub, { dns: ['a.example.com'] });
    expect(judgedClient([dnsCa, sub], client).verdict).toBe('accept');
  });
});

describe('the warning of an email address with two @', () => {
  it('is given under excluded email constraints too', async () => {
    const res = await judged(await excludes({ email: 'example.org' }), [{ email: 'a@b@example.com' }]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings.map((w) => w.code)).toEqual(['cert.malformed-email']);
  });

  it('is given for a CA only under the constraints of a CA above it, not its own', async () => {
    const emailCa = await intermediate(`CN=NC CA ${++cas},O=NC`, r, {
      pathLen: undefined,
      nameConstraints: { permitted: [{ email: 'example.com' }] },
      altNames: [{ email: 'ca@x@example.com' }],
    });
    const res = judgedClient(
      [emailCa],
      await leaf('CN=nc client,O=NC', emailCa, { altNames: [{ email: 'a@example.com' }] }),
    );
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([]);
  });
});

/**
 * x509-limbo's client-side email and otherName constraint cases (rfc5280::nc::*), which the vendored
 * subset (test/conformance/corpus) leaves out with every name-constraint case: rebuilt here with
 * the builder, judged like OpenSSL, and warned about where OpenSSL is laxer than RFC 5280.
 */
describe('x509-limbo’s email and otherName constraint cases', () => {
  it('nc-permits-email-exact and nc-permits-email-domain: accepted', async () => {
    await accepted(await permits({ email: 'foo@example.com' }), [{ email: 'foo@example.com' }]);
    await accepted(await permits({ email: 'example.com' }), [{ email: 'foo@example.com' }]);
  });

  it('nc-permits-invalid-email-san: OpenSSL accepts an address with two @, diagnose says so', async () => {
    const res = await judged(await permits({ email: 'example.com' }), [
      { email: 'good@example.com' },
      { email: 'alsogood@example.com' },
      { email: 'invalid@address@example.com' },
    ]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([
      {
        code: 'cert.malformed-email',
        message: expect.stringMatching(
          /^The client certificate has the email address invalid@address@example.com, with more than one @: OpenSSL judges it against the email constraints of CN=NC CA \d+,O=NC by the host after the last @, a strict \(RFC 5280\) validator refuses it\. Reissue it with a valid address\.$/,
        ),
      },
    ]);
    // Without email constraints nobody judges the address: no warning.
    const free = await judged(await permits({ dns: 'example.com' }), [{ email: 'a@b@example.com' }]);
    expect(free.warnings).toEqual([]);
  });

  it('nc-forbids-othername and nc-forbids-othername-noop: refused with such a name, accepted without', async () => {
    const PRIVATE = '1.3.6.1.4.1.55738.666.3';
    const NULL = new Uint8Array([0x05, 0x00]);
    const forbids = await ca({
      permitted: [{ dns: 'example.com' }],
      excluded: [{ otherName: PRIVATE, der: NULL }],
    });
    await refused(forbids, [{ dns: 'example.com' }, { otherName: PRIVATE, der: NULL }]);
    await accepted(forbids, [{ dns: 'example.com' }]);
  });
});
