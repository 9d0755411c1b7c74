import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { loadState } from '../../../shared/pipeline/state-store.js';
import { parseCertificate, toPem, verifySignature } from '../../../shared/pki/certificate.js';
import {
  certificateOf,
  emptyState,
  entryOf,
  KEYS,
  parsedCertificateOf,
  parseState,
  serializeState,
} from '../../../shared/truststore/state.js';
import { forgetCheckedCertificates, sealLine, sealOf } from '../../../shared/truststore/state-shape.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { intermediate, NOW, partnerChain, pemOf, root, toBytes } from '../../fixtures/pki.js';

type Doc = Record<string, unknown> & {
  entries: Record<string, unknown>[];
  history: Record<string, unknown>[];
  processed: Record<string, unknown>;
};

const parse = (d: unknown) => parseState(toBytes(JSON.stringify(d)));
/** A PEM certificate with its base64 cut into other lines (`cut` gets the base64 on one line). */
const rewrap = (pem: string, cut: (base64: string) => string[]): string => {
  const base64 = pem.split('\n').slice(1, -2).join('');
  return `-----BEGIN CERTIFICATE-----\n${cut(base64).join('\n')}\n-----END CERTIFICATE-----\n`;
};

describe('parseState', () => {
  /**
   * A state as trustroll writes it: two partners ingested, so two revisions and four entries.
   * Made inside the describe, not at file level: a setup that fails (ingest checks every state it
   * writes) then fails each test under it, where at file level the tests were only skipped, and
   * the mutation runner counted a mutant that broke the setup as one no test noticed.
   */
  let written: string;
  let otherPem: string;
  beforeAll(async () => {
    const store = new MemoryStore();
    const deps = {
      store,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(NOW.getTime()),
      log: memoryLog(),
      config: { roll: { domains: [] } },
    };
    const other = await partnerChain('Other');
    otherPem = toPem(other.root.der);
    for (const partner of ['Acme', 'Beta']) {
      const c = await partnerChain(partner);
      const { version } = await store.put(`inbox/${partner}/ca.pem`, toBytes(pemOf(c.root, c.intermediate)));
      await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version }], deps);
    }
    written = store.text(KEYS.state);
  });
  const doc = (): Doc => JSON.parse(written) as Doc;

  it('reads back what trustroll wrote, and a state whose revisions lack a SHA-256 (an older writer)', () => {
    expect(parse(doc()).revision).toBe(2);
    const older = doc();
    for (const r of older.history) delete r.sha256;
    expect(parse(older).history).toHaveLength(2);
    // Every outcome an upload can have is read.
    const outcomes = doc();
    outcomes.processed = {
      a: { outcome: 'accepted', at: 'x' },
      b: { outcome: 'rejected', at: 'x' },
      c: { outcome: 'private-key', at: 'x' },
    };
    expect(Object.keys(parse(outcomes).processed)).toEqual(['a', 'b', 'c']);
    // Fields it does not read are let through (a newer writer may add some).
    expect(parse({ ...doc(), note: 'by a newer trustroll' }).revision).toBe(2);
  });

  const edits: [string, (d: Doc) => void, RegExp][] = [
    [
      'history deleted',
      (d) => Reflect.deleteProperty(d, 'history'),
      /^history: expected a list, found nothing$/,
    ],
    [
      'processed set to null',
      (d) => (d.processed = null as never),
      /^processed: expected an object, found null$/,
    ],
    [
      'an entry set to null',
      (d) => (d.entries[1] = null as never),
      /^entries\[1\]: expected an object, found null$/,
    ],
    [
      'revision as a string',
      (d) => (d.revision = '3'),
      /^revision: expected a whole number of at least 0, found "3"$/,
    ],
    [
      'a revision behind its history',
      (d) => (d.revision = 1),
      /^history\[1\]\.revision: 2 is ahead of the state's revision 1$/,
    ],
    [
      'history out of order',
      (d) => d.history.reverse(),
      /^history\[1\]\.revision: 1 does not come after revision 2$/,
    ],
    [
      "an entry's PEM replaced by another certificate",
      (d) => (d.entries[2]!.pem = otherPem),
      /^entries\[2\]\.pem: not the certificate of the entry's fingerprint [0-9a-f]{16}… \(it holds [0-9a-f]{16}…\)$/,
    ],
    [
      "an entry's PEM with a stray character",
      (d) => (d.entries[0]!.pem = String(d.entries[0]!.pem).replace('\n', '\n*')),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'an entry listed twice',
      (d) => d.entries.push(d.entries[0]!),
      /^entries\[4\]: the same CA .* as entries\[0\]$/,
    ],
    [
      'an entry removed without a revision',
      (d) => d.entries.pop(),
      /^entries: not the CA set revision 2 was committed with \(they render to SHA-256 [0-9a-f]{16}…, history records [0-9a-f]{16}…\)$/,
    ],
    [
      "an entry's expiry edited (a later date than its certificate's)",
      (d) => (d.entries[1]!.notAfter = '2099-01-01T00:00:00.000Z'),
      /^entries\[1\]\.notAfter: "2099-01-01T00:00:00\.000Z" is not what the entry's certificate says \("20\d\d-/,
    ],
    [
      "an entry's subject edited",
      (d) => {
        d.entries[0]!.subject = 'CN=Someone Else';
      },
      /^entries\[0\]\.subject: "CN=Someone Else" is not what the entry's certificate says/,
    ],
    [
      "an entry's issuer key edited",
      (d) => (d.entries[3]!.issuerKey = 'x'),
      /^entries\[3\]\.issuerKey: "x" is not what the entry's certificate says/,
    ],
    [
      'a date that is not one',
      (d) => (d.entries[0]!.notAfter = 'soon'),
      /^entries\[0\]\.notAfter: expected a date/,
    ],
    [
      'an unknown outcome',
      (d) => ((Object.values(d.processed)[0]! as { outcome: string }).outcome = 'maybe'),
      /^processed\[".*"\]\.outcome: expected "accepted", "rejected" or "private-key", found "maybe"$/,
    ],
    [
      'an outcome that is not text',
      (d) => ((Object.values(d.processed)[0]! as { outcome: unknown }).outcome = 1),
      /^processed\[".*"\]\.outcome: expected "accepted", "rejected" or "private-key", found 1$/,
    ],
    [
      'a fingerprint of 63 digits',
      (d) => (d.entries[0]!.fingerprint = String(d.entries[0]!.fingerprint).slice(1)),
      /^entries\[0\]\.fingerprint: expected a SHA-256 in hex \(64 digits\)/,
    ],
    [
      'a fingerprint of 65 digits',
      (d) => (d.entries[0]!.fingerprint = `${d.entries[0]!.fingerprint}0`),
      /^entries\[0\]\.fingerprint: expected a SHA-256 in hex \(64 digits\)/,
    ],
    [
      'a fingerprint with a letter past f',
      (d) => (d.entries[0]!.fingerprint = `g${String(d.entries[0]!.fingerprint).slice(1)}`),
      /^entries\[0\]\.fingerprint: expected a SHA-256 in hex \(64 digits\)/,
    ],
    [
      'a date as a number',
      (d) => (d.entries[0]!.notAfter = 5),
      /^entries\[0\]\.notAfter: expected a date \(ISO 8601\), found 5$/,
    ],
    ['not a state at all', (d) => delete d.schema, /^state document is not a trustroll state \(schema 1\)$/],
    ['another schema', (d) => (d.schema = 2), /^state document is not a trustroll state \(schema 1\)$/],
    [
      'a negative revision',
      (d) => (d.revision = -1),
      /^revision: expected a whole number of at least 0, found -1$/,
    ],
    [
      'a fractional revision',
      (d) => (d.revision = 2.5),
      /^revision: expected a whole number of at least 0, found 2\.5$/,
    ],
    ['entries not a list', (d) => (d.entries = {} as never), /^entries: expected a list, found \{\}$/],
    [
      'an entry without a fingerprint',
      (d) => delete d.entries[0]!.fingerprint,
      /^entries\[0\]\.fingerprint: expected a SHA-256 in hex \(64 digits\), found nothing$/,
    ],
    [
      'an upper-case fingerprint',
      (d) => (d.entries[0]!.fingerprint = String(d.entries[0]!.fingerprint).toUpperCase()),
      /^entries\[0\]\.fingerprint: expected a SHA-256 in hex/,
    ],
    ...(['subject', 'subjectKey', 'issuer', 'issuerKey', 'partner', 'addedAt'] as const).map(
      (f): [string, (d: Doc) => void, RegExp] => [
        `an entry's ${f} as a number`,
        (d) => (d.entries[1]![f] = 7),
        new RegExp(`^entries\\[1\\]\\.${f}: expected a string, found 7$`),
      ],
    ),
    [
      'a notBefore that is not a date',
      (d) => (d.entries[2]!.notBefore = 'yesterday'),
      /^entries\[2\]\.notBefore: expected a date \(ISO 8601\), found "yesterday"$/,
    ],
    [
      'an entry without its upload',
      (d) => delete d.entries[0]!.upload,
      /^entries\[0\]\.upload: expected an object, found nothing$/,
    ],
    [
      'an upload without a key',
      (d) => delete (d.entries[0]!.upload as Record<string, unknown>).key,
      /^entries\[0\]\.upload\.key: expected a string, found nothing$/,
    ],
    [
      'an upload without a version',
      (d) => delete (d.entries[0]!.upload as Record<string, unknown>).version,
      /^entries\[0\]\.upload\.version: expected a string, found nothing$/,
    ],
    [
      'findings not a list',
      (d) => (d.entries[0]!.findings = 'none'),
      /^entries\[0\]\.findings: expected a list, found "none"$/,
    ],
    ...(['code', 'severity', 'message'] as const).map((k): [string, (d: Doc) => void, RegExp] => [
      `a finding without its ${k}`,
      (d) => (d.entries[0]!.findings = [{ code: 'x', severity: 'warning', message: 'm', [k]: undefined }]),
      new RegExp(
        `^entries\\[0\\]\\.findings\\[0\\]\\.${k}: expected ${k === 'severity' ? '"critical", "error", "warning" or "info"' : 'a string'}, found nothing$`,
      ),
    ]),
    [
      'a finding that is a string',
      (d) => (d.entries[0]!.findings = ['x']),
      /^entries\[0\]\.findings\[0\]: expected an object, found "x"$/,
    ],
    [
      'a PEM that is not text',
      (d) => (d.entries[0]!.pem = null),
      /^entries\[0\]\.pem: expected a string, found null$/,
    ],
    [
      'a PEM with a line of 65 characters',
      (d) => (d.entries[0]!.pem = String(d.entries[0]!.pem).replace(/\n(.{64})\n(.)/, '\n$1$2\n')),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a PEM with a blank line',
      (d) => (d.entries[0]!.pem = String(d.entries[0]!.pem).replace('-----\n', '-----\n\n')),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a PEM without its final newline',
      (d) => (d.entries[0]!.pem = String(d.entries[0]!.pem).trimEnd()),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a PEM of bytes that are no certificate',
      (d) => {
        const der = Buffer.from('not a certificate at all');
        d.entries[0]!.pem = toPem(new Uint8Array(der));
        d.entries[0]!.fingerprint = createHash('sha256').update(der).digest('hex');
      },
      /^entries\[0\]\.pem: not a certificate trustroll can read \(/,
    ],
    [
      'a processed upload without a time',
      (d) => delete (Object.values(d.processed)[0] as Record<string, unknown>).at,
      /^processed\[".*"\]\.at: expected a string, found nothing$/,
    ],
    [
      'a processed upload that is a string',
      (d) => (d.processed[Object.keys(d.processed)[0]!] = 'ok'),
      /^processed\[".*"\]: expected an object, found "ok"$/,
    ],
    [
      'a history entry that is not an object',
      (d) => (d.history[0] = 1 as never),
      /^history\[0\]: expected an object, found 1$/,
    ],
    [
      'a revision numbered 0',
      (d) => (d.history[0]!.revision = 0),
      /^history\[0\]\.revision: expected a whole number of at least 1, found 0$/,
    ],
    [
      'a revision repeated',
      (d) => (d.history[1]!.revision = 1),
      /^history\[1\]\.revision: 1 does not come after revision 1$/,
    ],
    [
      'a version that is not text',
      (d) => (d.history[0]!.version = 3),
      /^history\[0\]\.version: expected a string, found 3$/,
    ],
    [
      'a SHA-256 too short',
      (d) => (d.history[0]!.sha256 = 'abc'),
      /^history\[0\]\.sha256: expected a SHA-256 in hex \(64 digits\), found "abc"$/,
    ],
    [
      'a revision without its time',
      (d) => delete d.history[0]!.at,
      /^history\[0\]\.at: expected a date \(ISO 8601\), found nothing$/,
    ],
    [
      'a revision without its reason',
      (d) => delete d.history[1]!.reason,
      /^history\[1\]\.reason: expected a string, found nothing$/,
    ],
    [
      'added not a list',
      (d) => (d.history[0]!.added = null),
      /^history\[0\]\.added: expected a list, found null$/,
    ],
    [
      'a removed fingerprint that is not one',
      (d) => (d.history[1]!.removed = ['x']),
      /^history\[1\]\.removed\[0\]: expected a SHA-256 in hex/,
    ],
    [
      'an added fingerprint that is not one',
      (d) => (d.history[1]!.added = [...(d.history[1]!.added as string[]), 'y']),
      /^history\[1\]\.added\[2\]: expected a SHA-256 in hex/,
    ],
    [
      'partners keyed by something else',
      (d) => (d.history[0]!.partners = { acme: 'Acme' }),
      /^history\[0\]\.partners key: expected a SHA-256 in hex \(64 digits\), found "acme"$/,
    ],
    [
      'a partner that is not text',
      (d) => (d.history[0]!.partners = { ['a'.repeat(64)]: 1 }),
      /^history\[0\]\.partners\["a{64}"\]: expected a string, found 1$/,
    ],
    [
      'partners as a list',
      (d) => (d.history[0]!.partners = []),
      /^history\[0\]\.partners: expected an object, found \[\]$/,
    ],
    [
      'a lost version that is not text',
      (d) => (d.history[0]!.lostVersion = 1),
      /^history\[0\]\.lostVersion: expected a string, found 1$/,
    ],
    [
      'supersededBy 0',
      (d) => (d.history[0]!.supersededBy = 0),
      /^history\[0\]\.supersededBy: expected a whole number of at least 1, found 0$/,
    ],
    [
      'a last roll that is no date',
      (d) => (d.lastRollAt = 'never'),
      /^lastRollAt: expected a date \(ISO 8601\), found "never"$/,
    ],
    [
      'an expiry alert level as text',
      (d) => (d.expiryAlerts = { fp: { level: '30', at: 'x' } }),
      /^expiryAlerts\["fp"\]\.level: expected a number, found "30"$/,
    ],
    [
      'an expiry alert level infinite',
      (d) => (d.expiryAlerts = { fp: { level: null, at: 'x' } }),
      /^expiryAlerts\["fp"\]\.level: expected a number, found null$/,
    ],
    [
      'an expiry alert without a time',
      (d) => (d.expiryAlerts = { fp: { level: 30 } }),
      /^expiryAlerts\["fp"\]\.at: expected a string, found nothing$/,
    ],
    [
      'expiry alerts as a list',
      (d) => (d.expiryAlerts = []),
      /^expiryAlerts: expected an object, found \[\]$/,
    ],
    ['an outbox that is not a list', (d) => (d.outbox = {}), /^outbox: expected a list, found \{\}$/],
    ...(['id', 'eventType', 'severity', 'subject', 'body'] as const).map(
      (f): [string, (d: Doc) => void, RegExp] => [
        `a notification without its ${f}`,
        (d) => {
          const n: Record<string, unknown> = {
            id: 'i',
            eventType: 'e',
            severity: 's',
            subject: 'x',
            body: 'b',
          };
          delete n[f];
          d.outbox = [n];
        },
        new RegExp(`^outbox\\[0\\]\\.${f}: expected a string, found nothing$`),
      ],
    ),
    [
      'a notification partner that is not text',
      (d) => (d.outbox = [{ id: 'i', eventType: 'e', severity: 's', subject: 'x', body: 'b', partner: 5 }]),
      /^outbox\[0\]\.partner: expected a string, found 5$/,
    ],
    [
      'a pending publication without its version',
      (d) => (d.pending = { a: { since: 's', until: '2026-01-01T00:00:00Z' } }),
      /^pending\["a"\]\.version: expected a string, found nothing$/,
    ],
    [
      'a pending publication without since',
      (d) => (d.pending = { a: { version: 'v', until: '2026-01-01T00:00:00Z' } }),
      /^pending\["a"\]\.since: expected a string, found nothing$/,
    ],
    [
      'a pending publication until no date',
      (d) => (d.pending = { a: { version: 'v', since: 's', until: 'later' } }),
      /^pending\["a"\]\.until: expected a date \(ISO 8601\), found "later"$/,
    ],
    [
      'a removed entry damaged',
      (d) => (d.removedEntries = [{ ...d.entries[0], subject: 1 }]),
      /^removedEntries\[0\]\.subject: expected a string, found 1$/,
    ],
    [
      'removed entries as an object',
      (d) => (d.removedEntries = {}),
      /^removedEntries: expected a list, found \{\}$/,
    ],
    [
      'an expiry alert that is not an object',
      (d) => (d.expiryAlerts = { fp: 5 }),
      /^expiryAlerts\["fp"\]: expected an object, found 5$/,
    ],
    [
      'a notification that is not an object',
      (d) => (d.outbox = [5]),
      /^outbox\[0\]: expected an object, found 5$/,
    ],
    [
      'a fingerprint given as a list of one',
      (d) => (d.history[1]!.added = [[(d.history[1]!.added as string[])[0]]]),
      /^history\[1\]\.added\[0\]: expected a SHA-256 in hex \(64 digits\), found \["[0-9a-f]{38}…$/,
    ],
    [
      'a PEM in lines of 60 characters',
      (d) => (d.entries[0]!.pem = rewrap(String(d.entries[0]!.pem), (b) => b.match(/.{1,60}/g)!)),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a PEM whose last line is longer than 64 characters',
      (d) =>
        (d.entries[1]!.pem = rewrap(String(d.entries[1]!.pem), (b) => {
          const lines = b.match(/.{1,64}/g)!;
          return [...lines.slice(0, -2), lines.slice(-2).join('')];
        })),
      /^entries\[1\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a PEM with an empty line before its end (after full lines only)',
      (d) => {
        // 48 bytes: one full line of base64. (Not a certificate: that is found only after the form.)
        const der = Buffer.alloc(48, 1);
        d.entries[2]!.pem =
          `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n\n-----END CERTIFICATE-----\n`;
        d.entries[2]!.fingerprint = createHash('sha256').update(der).digest('hex');
      },
      /^entries\[2\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'a revision dated by hand in words',
      (d) => (d.history[1]!.at = 'yesterday'),
      /^history\[1\]\.at: expected a date \(ISO 8601\), found "yesterday"$/,
    ],
    [
      "a finding's severity that is none",
      (d) =>
        (d.entries[0]!.findings as Record<string, unknown>[]).push({
          code: 'x',
          severity: 'bogus',
          message: 'm',
        }),
      /^entries\[0\]\.findings\[\d+\]\.severity: expected "critical", "error", "warning" or "info", found "bogus"$/,
    ],
    [
      'a value of 40 characters, shown whole',
      (d) => (d.entries[0]!.subject = 'S'.repeat(38)),
      new RegExp(`^entries\\[0\\]\\.subject: "${'S'.repeat(38)}" is not what`),
    ],
    [
      'a long value, shown cut',
      (d) => (d.entries[0]!.subject = 'S'.repeat(80)),
      new RegExp(`^entries\\[0\\]\\.subject: "${'S'.repeat(39)}… is not what`),
    ],
  ];
  it.each(edits)('refuses a state edited by hand (%s), naming the field', (_, edit, message) => {
    const d = doc();
    edit(d);
    expect(() => parse(d)).toThrow(message);
  });

  it('cuts PEM lines as trustroll writes them when asked for lines of 64 (the helper the PEM edits use)', () => {
    const pem = String(doc().entries[0]!.pem);
    expect(rewrap(pem, (b) => b.match(/.{1,64}/g)!)).toBe(pem);
  });

  it('compares the entries with the latest revision, when it is the only one', () => {
    const d = doc();
    const first = d.history[0]!;
    d.revision = 1;
    d.history = [first];
    d.entries = d.entries.filter((e) => (first.added as string[]).includes(String(e.fingerprint)));
    expect(parse(d).entries).toHaveLength(2);
    d.entries.pop();
    expect(() => parse(d)).toThrow(/^entries: not the CA set revision 1 was committed with/);
  });

  it('refuses an expiry alert level beyond any number (1e999 parses to Infinity)', () => {
    const d = doc();
    d.expiryAlerts = { fp: { level: 'LEVEL', at: 'x' } };
    const text = JSON.stringify(d).replace('"LEVEL"', '1e999');
    expect(() => parseState(toBytes(text))).toThrow(
      /^expiryAlerts\["fp"\]\.level: expected a number, found null$/,
    );
    expect(() => parseState(toBytes(text.replace('1e999', '30')))).not.toThrow();
  });

  it('refuses base64 that decodes to the certificate but is not how trustroll writes it (padding bits set)', async () => {
    // A root whose DER is not a multiple of 3 bytes ends its base64 in padding; the last digit
    // before it carries bits the decoder drops. Subjects one character apart change the length by
    // 2 (the subject is written twice), but an ECDSA signature's length varies too: roots are made
    // until one has such a length (nearly always the first or second).
    let padded: Awaited<ReturnType<typeof root>> | undefined;
    for (let n = 0; !padded && n < 30; n++) {
      const candidate = await root(`CN=Pad${'1'.repeat(n)}`);
      if (candidate.der.length % 3 !== 0) padded = candidate;
    }
    if (!padded) throw new Error('no root of a length that ends its base64 in padding in 30 tries');
    const e = entryOf(parseCertificate(padded.der), {
      partner: 'pad',
      upload: { key: 'inbox/pad/ca.pem', version: '1' },
      addedAt: NOW.toISOString(),
      findings: [],
    });
    const state = (pem: string) => ({ ...emptyState(), entries: [{ ...e, pem }] });
    expect(parse(state(e.pem)).entries).toHaveLength(1);
    const at = e.pem.indexOf('=');
    const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = digits.indexOf(e.pem[at - 1]!);
    const unused = e.pem.endsWith('==\n-----END CERTIFICATE-----\n') ? 0b1111 : 0b11;
    const altered = `${e.pem.slice(0, at - 1)}${digits[last ^ unused]}${e.pem.slice(at)}`;
    // The same certificate: the decoder reads both spellings as the same bytes.
    expect(Buffer.from(altered.split('\n').slice(1, -2).join(''), 'base64')).toEqual(Buffer.from(padded.der));
    expect(() => parse(state(altered))).toThrow(
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    );
  });

  it('checks the entries of a state it made once; a parsed state is checked whole every time', () => {
    // Entries are never changed in place; changing one here is how the test sees whether the
    // check ran again. A parsed state's entries were not kept: they are checked again.
    // (Each document here is one no other test parses: parseState gives the same bytes the same
    // state object.)
    const parsed = parse({ ...doc(), note: 'parsed' });
    (parsed.entries[0] as { subject: string }).subject = 'CN=Changed';
    expect(() => parseState(serializeState(parsed))).toThrow(
      /^entries\[0\]\.subject: "CN=Changed" is not what the entry's certificate says/,
    );
    // A state this process made, once checked, keeps its entries: the next state made from them
    // checks only what is new.
    const made = parse({ ...doc(), note: 'made' });
    expect(parseState(serializeState(made))).toBe(made);
    (made.entries[1] as { subject: string }).subject = 'CN=Changed';
    const next = { ...made, processed: { ...made.processed } };
    expect(parseState(serializeState(next)).entries[1]!.subject).toBe('CN=Changed');
  });

  it('reads a sealed document without parsing a certificate; an entry it cannot vouch for is not sealed', async () => {
    // What ingest wrote is sealed: its entries were made from their parsed certificates.
    expect(doc().entriesSeal).toMatch(/^[0-9a-f]{64}$/);
    // Entries no check in this process parsed: made here, written, and read as another process
    // reads them (other bytes than those written: a field no check reads).
    const made = await Promise.all(
      ['CN=Sealed A', 'CN=Sealed B'].map(async (cn) =>
        entryOf(parseCertificate((await root(cn)).der), {
          partner: 'sealed',
          upload: { key: 'inbox/sealed/ca.pem', version: '1' },
          addedAt: NOW.toISOString(),
          findings: [],
        }),
      ),
    );
    const text = Buffer.from(serializeState({ ...emptyState(), entries: made })).toString('utf8');
    const sealed = { ...(JSON.parse(text) as Doc), note: 'another process' };
    forgetCheckedCertificates();
    const read = parse(sealed);
    expect(read.entries.map((e) => parsedCertificateOf(e))).toEqual([undefined, undefined]);
    // Parsed when first asked for, and it is the entry's certificate.
    expect(certificateOf(read.entries[1]!).fingerprint).toBe(made[1]!.fingerprint);
    // The same document with a seal that is not its entries' (a writer that changed the entries and
    // kept the seal it had read): every certificate is parsed and compared, and it is read.
    forgetCheckedCertificates();
    const stale = parse({ ...sealed, note: 'stale seal', entriesSeal: 'a'.repeat(64) });
    expect(stale.entries.map((e) => parsedCertificateOf(e)?.fingerprint)).toEqual(
      made.map((e) => e.fingerprint),
    );
    // A field the seal vouched for, changed in place (a bug): the entry is no longer vouched for, the
    // document is written without a seal, and the next reader compares it with its certificate.
    (read.entries[0] as { notAfter: string }).notAfter = '2099-01-01T00:00:00.000Z';
    const written = JSON.parse(Buffer.from(serializeState({ ...read, revision: 1 })).toString('utf8')) as Doc;
    expect(written.entriesSeal).toBeUndefined();
    forgetCheckedCertificates();
    expect(() => parse({ ...written, note: 'bug' })).toThrow(
      /^entries\[0\]\.notAfter: "2099-01-01T00:00:00\.000Z" is not what the entry's certificate says/,
    );
    // A process that holds a CA's certificate compares the fields with it, whatever the seal says
    // (here one made again for an edited field, as no writer would).
    const resealed = JSON.parse(text) as Doc;
    resealed.entries[1]!.subject = 'CN=Resealed';
    resealed.entriesSeal = sealOf(resealed.entries.map(sealLine), [], String(resealed.signatures));
    certificateOf({ ...made[1]! });
    expect(() => parse({ ...resealed, note: 'parsed here' })).toThrow(
      /^entries\[1\]\.subject: "CN=Resealed" is not what/,
    );
    // Removed entries are sealed with the entries, and checked the same way.
    const withRemoved = JSON.parse(
      Buffer.from(
        serializeState({ ...emptyState(), entries: [made[0]!], removedEntries: [made[1]!] }),
      ).toString('utf8'),
    ) as Doc & { removedEntries: Record<string, unknown>[] };
    expect(withRemoved.entriesSeal).toMatch(/^[0-9a-f]{64}$/);
    expect(withRemoved.entriesSeal).not.toBe(JSON.parse(text).entriesSeal);
    withRemoved.removedEntries[0]!.subject = 'CN=Edited';
    forgetCheckedCertificates();
    expect(() => parse(withRemoved)).toThrow(/^removedEntries\[0\]\.subject: "CN=Edited" is not what/);
    expect(() => parse({ ...sealed, entriesSeal: 7 })).toThrow(
      /^entriesSeal: expected a SHA-256 in hex \(64 digits\), found 7$/,
    );
  });

  it('carries the signature answers it found under the seal; a reader takes them as found, an edited one it verifies', async () => {
    const provenance = {
      partner: 'sig',
      upload: { key: 'inbox/sig/ca.pem', version: '1' },
      addedAt: NOW.toISOString(),
      findings: [],
    };
    // A CA and one of the same name with another key, which does not verify the intermediate.
    const chain = async (cn: string) => {
      const real = await root(`CN=${cn}`);
      const lookalike = await root(`CN=${cn}`, { keySlot: `${cn} look-alike` });
      const below = await intermediate(`CN=${cn} Issuing`, real);
      return [lookalike, below, real].map((c) => entryOf(parseCertificate(c.der), provenance));
    };
    const state = (entries: ReturnType<typeof entryOf>[]) => ({ ...emptyState(), entries });
    const answers = (text: string) => (JSON.parse(text) as Doc).signatures;

    // What this process found good is written: the intermediate (1) is signed by its root (2). That
    // the look-alike (0) does not verify it is not carried: a check that failed may have failed
    // for this machine alone (a key its OpenSSL cannot load); whoever asks checks it again.
    const [lookalike, below, real] = await chain('Sig Found');
    const all = [lookalike!, below!, real!];
    expect(answers(Buffer.from(serializeState(state(all))).toString('utf8'))).toBe('');
    expect(verifySignature(certificateOf(below!), certificateOf(lookalike!))).toBe(false);
    expect(answers(Buffer.from(serializeState(state(all))).toString('utf8'))).toBe('');
    expect(verifySignature(certificateOf(below!), certificateOf(real!))).toBe(true);
    const found = JSON.parse(Buffer.from(serializeState(state(all))).toString('utf8')) as Doc;
    expect(found.signatures).toBe('1>2');

    // A sealed answer is taken as found, not verified again. Shown with one that is false, sealed
    // here as only a writer seals (the seal vouches for what trustroll wrote; it is no signature).
    const [fakeIssuer, fakeBelow] = await chain('Sig Sealed');
    const forged = JSON.parse(
      Buffer.from(serializeState(state([fakeIssuer!, fakeBelow!]))).toString('utf8'),
    ) as Doc;
    forged.signatures = '1>0';
    forged.entriesSeal = sealOf(forged.entries.map(sealLine), [], '1>0');
    forgetCheckedCertificates();
    const taken = parse(forged);
    expect(verifySignature(certificateOf(taken.entries[1]!), certificateOf(taken.entries[0]!))).toBe(true);

    // The same answer edited by hand (the seal left as it was): not taken, the signature is verified.
    const [editIssuer, editBelow] = await chain('Sig Edited');
    const edited = JSON.parse(
      Buffer.from(serializeState(state([editIssuer!, editBelow!]))).toString('utf8'),
    ) as Doc;
    edited.signatures = '1>0';
    forgetCheckedCertificates();
    const read = parse(edited);
    expect(verifySignature(certificateOf(read.entries[1]!), certificateOf(read.entries[0]!))).toBe(false);

    // Answers name positions among the entries and removed entries, nothing else.
    const past = { ...found, signatures: '3>0', note: 'past the end' } as Doc;
    past.entriesSeal = sealOf(past.entries.map(sealLine), [], '3>0');
    forgetCheckedCertificates();
    expect(() => parse(past)).toThrow(/^signatures: position 3 is past the 3 entries$/);
    expect(() => parse({ ...found, signatures: '1>x' })).toThrow(/^signatures: expected signature answers/);
    expect(() => parse({ ...found, signatures: '1!0' })).toThrow(/^signatures: expected signature answers/);
  });

  it("writes a field of a hand-edited state that holds the entries' mark as it was, the entries in their place", () => {
    // A field before the entries holding the text serializeState stands in for the entries with.
    const { schema, revision, ...rest } = doc();
    const edited = { schema, revision, note: '\u0000entries\u0000', ...rest, history: doc().history };
    const read = parse(edited);
    const again = JSON.parse(Buffer.from(serializeState({ ...read })).toString('utf8')) as Doc;
    expect(again.note).toBe('\u0000entries\u0000');
    expect(again.entries.map((e) => e.fingerprint)).toEqual(doc().entries.map((e) => e.fingerprint));
    expect(parse({ ...again, another: 'read' }).entries).toHaveLength(4);
  });

  it('refuses a state nested past 32 levels (a field it does not read), naming where; 31 deep is written again', () => {
    const nested = (depth: number): unknown => {
      let v: unknown = 'bottom';
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    // 5,000 deep: JSON.parse reads it, JSON.stringify (writing it again) overflows the stack.
    const text = JSON.stringify({ ...doc(), zz: 'ZZ' }).replace(
      '"ZZ"',
      `${'['.repeat(5000)}0${']'.repeat(5000)}`,
    );
    expect(() => JSON.stringify(JSON.parse(text))).toThrow(/call stack/);
    expect(() => parseState(toBytes(text))).toThrow(
      new RegExp(`^zz${'\\[0\\]'.repeat(31)}: nested deeper than 32 levels`),
    );
    const deep = parse({ ...doc(), zz: nested(31) });
    expect(JSON.parse(Buffer.from(serializeState({ ...deep })).toString('utf8')).zz).toEqual(nested(31));
  });

  it('is refused by loadState as damage, with the key, its version and the field', async () => {
    const store = new MemoryStore();
    const d = doc();
    delete (d as Partial<Doc>).history;
    const { version } = await store.put(KEYS.state, serializeState(d as never));
    await expect(loadState(store)).rejects.toMatchObject({
      name: 'DamagedStoreError',
      message: expect.stringMatching(
        new RegExp(
          `^state/truststore\\.json \\(version ${version}\\) cannot be read: history: expected a list, found nothing\\. .*trustroll repair`,
        ),
      ),
    });
  });
});
