import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import {
  certificateOf,
  emptyState,
  entryOf,
  parsedCertificateOf,
  parseState,
  type TruststoreState,
} from '../../../shared/truststore/state.js';
import { NOW, root, toBytes } from '../../fixtures/pki.js';

/**
 * The state's revocation part (CRLs held, manual revocations, partner rules: what the revocation
 * index and the door's decisions are built from) is checked field by field as the rest is: a part
 * edited by hand is named, never half-used.
 */
type Rev = Record<string, unknown> & {
  crls: Record<string, Record<string, unknown> & { upload: Record<string, unknown> }>;
  manual: Record<string, unknown>[];
  rules: Record<string, Record<string, unknown>>;
  staleAlerts?: Record<string, Record<string, unknown>>;
  crlChange?: Record<string, unknown>;
};

const F = 'a'.repeat(64);
const H = 'b'.repeat(64);
const KEY = `${F}/`;
const SCOPED = `${F}/idp:http://crl.example/users.crl`;

/** A revocation part as trustroll writes it: two CRLs of one CA (a full one and a partition). */
const revocation = (): Rev => ({
  generation: 3,
  crls: {
    [KEY]: {
      issuer: F,
      scope: '',
      uris: ['http://crl.example/full.crl', 'ldap://crl.example/full'],
      onlyUser: false,
      onlyCA: true,
      number: '1203',
      thisUpdate: '2026-11-30T00:00:00.000Z',
      nextUpdate: '2026-12-07T00:00:00.000Z',
      sha256: H,
      serials: H,
      entries: 0,
      partner: 'Acme',
      upload: { key: 'inbox/Acme/crl/full.crl', version: 'v1' },
      acceptedAt: '2026-11-30T01:00:00.000Z',
    },
    [SCOPED]: {
      issuer: F,
      scope: 'idp:http://crl.example/users.crl',
      uris: [],
      onlyUser: true,
      onlyCA: false,
      thisUpdate: '2026-11-30T00:00:00.000Z',
      sha256: H,
      serials: H,
      entries: 2,
      partner: 'Acme',
      upload: { key: 'inbox/Acme/crl/users.crl', version: 'v2' },
      acceptedAt: '2026-11-30T01:00:00.000Z',
    },
  },
  manual: [
    { issuer: F, serial: '0a1b2c', reason: 'keyCompromise', by: 'ops', at: '2026-12-01T00:00:00.000Z' },
  ],
  staleAlerts: { [KEY]: { level: 0, at: '2026-12-01T00:00:00.000Z' } },
  // As ingest writes it: the CRLs' last change is the generation's last change.
  crlChange: { revision: 0, generation: 3 },
  rules: { Acme: { pins: [H, F], routes: ['GET /orders/*', 'POST /orders'] }, Beta: {} },
});

/** Each document is one no other test parses (parseState keeps what it checked, by bytes). */
let n = 0;
const parse = (rev: unknown) =>
  parseState(toBytes(JSON.stringify({ ...emptyState(), note: `revocation ${n++}`, revocation: rev })));

describe('checkState: the revocation part', () => {
  it('reads back a revocation part as trustroll writes it, optional fields absent or present', () => {
    expect(parse(revocation()).revocation).toEqual(revocation());
    const bare = revocation();
    delete bare.staleAlerts;
    delete bare.crlChange;
    bare.rules = { Acme: {} };
    expect(parse(bare).revocation).toEqual(bare);
    // A state without one (before revocation existed) is read too.
    expect(parse(undefined).revocation).toBeUndefined();
  });

  const crl = (r: Rev) => r.crls[KEY]!;
  /** An edit that replaces the whole part returns it under this key. */
  const WHOLE = Symbol('whole part');
  const at = `revocation.crls[${JSON.stringify(KEY)}]`;
  const edits: [string, (r: Rev) => unknown, string][] = [
    ['the part set to null', () => ({ [WHOLE]: null }), 'revocation: expected an object, found null'],
    ['the part set to a list', () => ({ [WHOLE]: [] }), 'revocation: expected an object, found []'],
    [
      'a negative generation',
      (r) => (r.generation = -1),
      'revocation.generation: expected a whole number of at least 0, found -1',
    ],
    [
      'a CRL change at generation 0 (a change makes one)',
      (r) => (r.crlChange = { revision: 0, generation: 0 }),
      'revocation.crlChange.generation: expected a whole number of at least 1, found 0',
    ],
    [
      'a CRL change past the generation',
      (r) => (r.crlChange = { revision: 0, generation: 4 }),
      "revocation.crlChange.generation: is 4, past the state's revocation generation 3",
    ],
    [
      'a CRL change without its revision',
      (r) => (r.crlChange = { generation: 1 }),
      'revocation.crlChange.revision: expected a whole number of at least 0, found nothing',
    ],
    ['crls as a list', (r) => (r.crls = [] as never), 'revocation.crls: expected an object, found []'],
    ['a CRL set to null', (r) => (r.crls[KEY] = null as never), `${at}: expected an object, found null`],
    [
      'an issuer not in hex',
      (r) => (crl(r).issuer = 'A'.repeat(64)),
      `${at}.issuer: expected a SHA-256 in hex (64 digits), found "${'A'.repeat(39)}…`,
    ],
    [
      'a CRL filed under another scope',
      (r) => (crl(r).scope = 'idp:x'),
      `${at}: is filed under ${JSON.stringify(KEY)}, not under its issuer and scope`,
    ],
    ['uris missing', (r) => delete crl(r).uris, `${at}.uris: expected a list, found nothing`],
    [
      'a URI not a string',
      (r) => (crl(r).uris = ['http://a', 5]),
      `${at}.uris[1]: expected a string, found 5`,
    ],
    [
      'onlyUser as a string',
      (r) => (crl(r).onlyUser = 'false'),
      `${at}.onlyUser: expected true or false, found "false"`,
    ],
    ['onlyCA missing', (r) => delete crl(r).onlyCA, `${at}.onlyCA: expected true or false, found nothing`],
    [
      'a CRL number as a number',
      (r) => (crl(r).number = 1203),
      `${at}.number: expected a decimal number as a string, found 1203`,
    ],
    [
      'a CRL number in hex',
      (r) => (crl(r).number = '4b3'),
      `${at}.number: expected a decimal number as a string, found "4b3"`,
    ],
    [
      'a CRL number after a letter',
      (r) => (crl(r).number = 'x12'),
      `${at}.number: expected a decimal number as a string, found "x12"`,
    ],
    [
      'a CRL number before a letter',
      (r) => (crl(r).number = '12x'),
      `${at}.number: expected a decimal number as a string, found "12x"`,
    ],
    [
      'an empty CRL number',
      (r) => (crl(r).number = ''),
      `${at}.number: expected a decimal number as a string, found ""`,
    ],
    [
      'thisUpdate not a date',
      (r) => (crl(r).thisUpdate = 'monday'),
      `${at}.thisUpdate: expected a date (ISO 8601), found "monday"`,
    ],
    [
      'nextUpdate not a date',
      (r) => (crl(r).nextUpdate = 'soon'),
      `${at}.nextUpdate: expected a date (ISO 8601), found "soon"`,
    ],
    [
      'sha256 cut short',
      (r) => (crl(r).sha256 = 'b'.repeat(63)),
      `${at}.sha256: expected a SHA-256 in hex (64 digits), found "${'b'.repeat(39)}…`,
    ],
    [
      'serials missing',
      (r) => delete crl(r).serials,
      `${at}.serials: expected a SHA-256 in hex (64 digits), found nothing`,
    ],
    [
      'a negative entry count',
      (r) => (crl(r).entries = -1),
      `${at}.entries: expected a whole number of at least 0, found -1`,
    ],
    ['partner missing', (r) => delete crl(r).partner, `${at}.partner: expected a string, found nothing`],
    [
      'upload set to a string',
      (r) => (crl(r).upload = 'x' as never),
      `${at}.upload: expected an object, found "x"`,
    ],
    [
      'the upload key missing',
      (r) => delete crl(r).upload.key,
      `${at}.upload.key: expected a string, found nothing`,
    ],
    [
      'the upload version a number',
      (r) => (crl(r).upload.version = 2),
      `${at}.upload.version: expected a string, found 2`,
    ],
    [
      'acceptedAt missing',
      (r) => delete crl(r).acceptedAt,
      `${at}.acceptedAt: expected a date (ISO 8601), found nothing`,
    ],
    [
      'manual missing',
      (r) => delete (r as Partial<Rev>).manual,
      'revocation.manual: expected a list, found nothing',
    ],
    [
      'a manual revocation set to null',
      (r) => (r.manual[0] = null as never),
      'revocation.manual[0]: expected an object, found null',
    ],
    [
      'a manual issuer missing',
      (r) => delete r.manual[0]!.issuer,
      'revocation.manual[0].issuer: expected a SHA-256 in hex (64 digits), found nothing',
    ],
    [
      'a serial in capitals',
      (r) => (r.manual[0]!.serial = '0A1B'),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found "0A1B"',
    ],
    [
      'a serial of half a byte more',
      (r) => (r.manual[0]!.serial = '0a1'),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found "0a1"',
    ],
    [
      'a serial after a letter',
      (r) => (r.manual[0]!.serial = 'x0a1b'),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found "x0a1b"',
    ],
    [
      'a serial before a letter',
      (r) => (r.manual[0]!.serial = '0a1bx'),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found "0a1bx"',
    ],
    [
      'an empty serial',
      (r) => (r.manual[0]!.serial = ''),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found ""',
    ],
    [
      'a serial as a number',
      (r) => (r.manual[0]!.serial = 11),
      'revocation.manual[0].serial: expected lowercase hex of whole bytes, found 11',
    ],
    [
      'a reason missing',
      (r) => delete r.manual[0]!.reason,
      'revocation.manual[0].reason: expected a string, found nothing',
    ],
    [
      'who asked missing',
      (r) => delete r.manual[0]!.by,
      'revocation.manual[0].by: expected a string, found nothing',
    ],
    [
      'when not a date',
      (r) => (r.manual[0]!.at = 'today'),
      'revocation.manual[0].at: expected a date (ISO 8601), found "today"',
    ],
    [
      'stale alerts as a list',
      (r) => (r.staleAlerts = [] as never),
      'revocation.staleAlerts: expected an object, found []',
    ],
    [
      'a stale alert set to null',
      (r) => (r.staleAlerts![KEY] = null as never),
      `revocation.staleAlerts[${JSON.stringify(KEY)}]: expected an object, found null`,
    ],
    [
      'a negative alert level',
      (r) => (r.staleAlerts![KEY]!.level = -1),
      `revocation.staleAlerts[${JSON.stringify(KEY)}].level: expected a whole number of at least 0, found -1`,
    ],
    [
      'an alert time not a date',
      (r) => (r.staleAlerts![KEY]!.at = 'then'),
      `revocation.staleAlerts[${JSON.stringify(KEY)}].at: expected a date (ISO 8601), found "then"`,
    ],
    [
      'rules missing',
      (r) => delete (r as Partial<Rev>).rules,
      'revocation.rules: expected an object, found nothing',
    ],
    [
      "a partner's rules set to null",
      (r) => (r.rules.Beta = null as never),
      'revocation.rules["Beta"]: expected an object, found null',
    ],
    [
      'pins not a list',
      (r) => (r.rules.Acme!.pins = H),
      `revocation.rules["Acme"].pins: expected a list, found "${'b'.repeat(39)}…`,
    ],
    [
      'a pin not in hex',
      (r) => (r.rules.Acme!.pins = [H, 'pin']),
      'revocation.rules["Acme"].pins[1]: expected a SHA-256 in hex (64 digits), found "pin"',
    ],
    [
      'routes not a list',
      (r) => (r.rules.Acme!.routes = 'GET /'),
      'revocation.rules["Acme"].routes: expected a list, found "GET /"',
    ],
    [
      'a route not a string',
      (r) => (r.rules.Acme!.routes = ['GET /', null]),
      'revocation.rules["Acme"].routes[1]: expected a string, found null',
    ],
  ];
  it.each(edits)('refuses a revocation part edited by hand (%s), naming the field', (_, edit, message) => {
    const r = revocation();
    const replaced = edit(r);
    const doc = typeof replaced === 'object' && replaced !== null && WHOLE in replaced ? replaced[WHOLE] : r;
    expect(() => parse(doc)).toThrow(message);
    // The whole message: nothing before the field's path.
    expect(() => parse(doc)).toThrow(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('certificateOf after a state check', () => {
  let cert: Certificate;
  beforeAll(async () => {
    cert = parseCertificate((await root('CN=Parsed Once,O=State')).der);
  });

  it("hands on the certificate the check parsed: the state's entries are not parsed again", () => {
    const made = entryOf(cert, {
      partner: 'Acme',
      upload: { key: 'inbox/Acme/ca.pem', version: 'v1' },
      addedAt: NOW.toISOString(),
      findings: [],
    });
    const state: TruststoreState = { ...emptyState(), entries: [{ ...made }] };
    // Parsed from JSON: entries this process did not make.
    const read = parseState(toBytes(JSON.stringify({ ...state, note: 'parsed once' })));
    const e = read.entries[0]!;
    const parsed = parsedCertificateOf(e);
    expect(parsed?.fingerprint).toBe(made.fingerprint);
    // The certificate this process holds for that PEM (made from it here): not parsed again.
    expect(parsed).toBe(cert);
    expect(certificateOf(e)).toBe(parsed);
    // An entry object no check has seen is not parsed by parsedCertificateOf; certificateOf does.
    const copy = { ...e };
    expect(parsedCertificateOf(copy)).toBeUndefined();
    expect(certificateOf(copy).fingerprint).toBe(made.fingerprint);
    expect(certificateOf(copy)).not.toBe(parsed);
    expect(parsedCertificateOf(copy)).toBe(certificateOf(copy));
  });
});
