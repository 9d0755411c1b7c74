import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localStore } from '../../../cli/local.js';
import { publishIndex, revocationOf } from '../../../shared/pipeline/revocation.js';
import { changeState, loadState } from '../../../shared/pipeline/state-store.js';
import {
  crl,
  type Issued,
  intermediate,
  leaf,
  partnerChain,
  pemBlock,
  pemOf,
  root,
} from '../../../shared/pki/builder.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { indexSha256 } from '../../../shared/revocation/index.js';
import { reasonCode, toRecords } from '../../../shared/revocation/records.js';
import { crlKey, serialsKey } from '../../../shared/revocation/state.js';
import { memoryLog } from '../../fakes/fakes.js';
import { runCli } from '../../fixtures/cli.js';

/**
 * The argument handling of revoke, unrevoke, rules and authorize, in-process against a folder
 * store made by ingest: which mistakes are refused (exit 2) with a message saying what to fix,
 * and what each command records and prints.
 */

const STACK = /\n\s+at \S.*:\d+:\d+\)?|unexpected failure/;

let dir: string;
let store: string[];
let acme: { root: Issued; intermediate: Issued; client: Issued };
let beta: { root: Issued; intermediate: Issued; client: Issued };
const file = (name: string, text: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const fp = (i: Issued) => parseCertificate(i.der).fingerprint;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-revocation-cli-'));
  store = ['--data-dir', join(dir, '.trustroll')];
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
  for (const [partner, chain] of [
    ['acme', acme],
    ['beta', beta],
  ] as const) {
    mkdirSync(join(dir, 'inbox', partner), { recursive: true });
    writeFileSync(join(dir, 'inbox', partner, 'ca.pem'), pemOf(chain.root, chain.intermediate));
  }
  const ingest = await runCli(['ingest', ...store, '--inbox', join(dir, 'inbox')]);
  expect(ingest.code, ingest.err).toBe(0);
}, 60_000);

describe('revoke and unrevoke: which certificate', () => {
  it('refuses no selector, both selectors, and a serial without its issuer, saying what to give', async () => {
    const client = file('client.pem', acme.client.pem);
    const none = await runCli(['revoke', '--reason', 'x', ...store]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/name the certificate: --cert <file>, or --serial <hex> with --issuer/);
    const both = await runCli(['revoke', '--cert', client, '--serial', '01', '--reason', 'x', ...store]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/give --cert, or --serial with --issuer, not both/);
    const serialOnly = await runCli(['unrevoke', '--serial', '01', ...store]);
    expect(serialOnly.code).toBe(2);
    expect(serialOnly.err).toMatch(/--serial needs --issuer <sha256>.*unique per issuer/);
    const issuerOnly = await runCli(['unrevoke', '--issuer', fp(acme.intermediate), ...store]);
    expect(issuerOnly.code).toBe(2);
    for (const r of [none, both, serialOnly, issuerOnly]) expect(r.err).not.toMatch(STACK);
  });

  it('refuses a serial that is not hex, an issuer that is not a fingerprint or not in the truststore, and an empty reason', async () => {
    const notHex = await runCli([
      'revoke',
      '--serial',
      'zz',
      '--issuer',
      fp(acme.intermediate),
      '--reason',
      'x',
      ...store,
    ]);
    expect(notHex.code).toBe(2);
    expect(notHex.err).toMatch(/"zz" is not a hexadecimal serial number/);
    // A negative serial (as openssl prints one) is named as such, with what to do instead.
    for (const negative of ['-11', '-0x11', '-0B']) {
      const r = await runCli([
        'revoke',
        '--serial',
        negative,
        '--issuer',
        fp(acme.intermediate),
        '--reason',
        'x',
        ...store,
      ]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        `trustroll: --serial "${negative}" is negative, and negative serial numbers are not valid (RFC 5280 requires a positive serial): give the certificate itself with --cert <file.pem>, and trustroll revokes it by the serial bytes it carries\n`,
      );
    }
    const short = await runCli(['revoke', '--serial', '01', '--issuer', 'abc', '--reason', 'x', ...store]);
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/not a SHA-256 fingerprint \(or a prefix of 12\+ hex digits\)/);
    const unknown = await runCli([
      'revoke',
      '--serial',
      '01',
      '--issuer',
      'f'.repeat(64),
      '--reason',
      'x',
      ...store,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no CA of the truststore has the fingerprint/);
    const empty = await runCli([
      'revoke',
      '--serial',
      '01',
      '--issuer',
      fp(acme.intermediate),
      '--reason',
      ' ',
      ...store,
    ]);
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/--reason is empty/);
    const nobody = await runCli([
      'revoke',
      '--serial',
      '01',
      '--issuer',
      fp(acme.intermediate),
      '--reason',
      'lost',
      '--by',
      '',
      ...store,
    ]);
    expect([nobody.code, nobody.err]).toEqual([2, expect.stringMatching(/--by is empty/)]);
  });

  it('refuses a --cert whose issuer is not in the truststore, or a root of it, and revokes an intermediate CA under its issuer', async () => {
    const strangerRoot = await root('CN=Stranger Root CA,O=Stranger');
    const stranger = file('stranger.pem', (await leaf('CN=stranger,O=Stranger', strangerRoot)).pem);
    const r = await runCli(['revoke', '--cert', stranger, '--reason', 'x', ...store]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/issued by CN=Stranger Root CA,O=Stranger, which is not a CA of the truststore/);
    // Same issuer name as acme's intermediate, another key: not a client of the truststore.
    // Keys are made per subject unless a key slot is named: this one has its own.
    const impostorCa = await root('CN=Acme Issuing CA,O=Acme', { keySlot: 'impostor-ca' });
    const impostor = file('impostor.pem', (await leaf('CN=impostor,O=Acme', impostorCa)).pem);
    const forged = await runCli(['revoke', '--cert', impostor, '--reason', 'x', ...store]);
    expect(forged.code).toBe(2);
    expect(forged.err).toMatch(
      /was issued by a CA named CN=Acme Issuing CA,O=Acme with another key than the one of that name in the truststore|did not sign it/,
    );
    const rootCa = file('root.pem', acme.root.pem);
    const itself = await runCli(['revoke', '--cert', rootCa, '--reason', 'x', ...store]);
    expect(itself.code).toBe(2);
    expect(itself.err).toMatch(
      /a root CA of the truststore: no CA above it can revoke it; take it out with trustroll remove --fingerprint/,
    );
    // An intermediate CA is revoked under its issuer, as --serial with --issuer revokes it.
    const ca = file('ca.pem', acme.intermediate.pem);
    const sub = await runCli(['revoke', '--cert', ca, '--reason', 'CA key lost', ...store]);
    expect(sub.code, sub.err).toBe(0);
    expect(sub.out).toMatch(
      /that serial is the truststore CA CN=Acme Issuing CA,O=Acme \(partner acme\): every client under it is denied/,
    );
    const client = file('acme-client.pem', acme.client.pem);
    const denied = JSON.parse((await runCli(['authorize', '--cert', client, '--json', ...store])).out);
    expect(denied.reasons.map((x: { code: string }) => x.code)).toContain('ca.revoked');
    expect((await runCli(['unrevoke', '--cert', ca, ...store])).code).toBe(0);
    const empty = file('empty.pem', 'nothing here\n');
    const none = await runCli(['revoke', '--cert', empty, '--reason', 'x', ...store]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/holds no readable certificate/);
  });

  it('revokes by serial as people write it, says when it was revoked already, and takes it back once', async () => {
    const serial = parseCertificate(beta.client.der).serial;
    const spelled = `0x${serial.toUpperCase()}`;
    const prefix = fp(beta.intermediate).slice(0, 16);
    const first = await runCli([
      'revoke',
      '--serial',
      spelled,
      '--issuer',
      prefix,
      '--reason',
      'lost laptop',
      '--by',
      'ops',
      '--json',
      ...store,
    ]);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({
      outcome: 'revoked',
      revocation: { issuer: fp(beta.intermediate), serial, reason: 'lost laptop', by: 'ops' },
      issuer: { partner: 'beta', subject: 'CN=Beta Issuing CA,O=Beta' },
      indexVersion: expect.any(String),
    });
    const again = await runCli([
      'revoke',
      '--serial',
      serial,
      '--issuer',
      prefix,
      '--reason',
      'again',
      ...store,
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^already revoked by hand: .*by ops .*\(lost laptop\); nothing changed/);
    // status names it (not only a count), and its JSON lists it with the CA and partner.
    const shown = await runCli(['status', ...store]);
    expect(shown.out).toMatch(
      new RegExp(
        `^ {2}revoked by hand: serial ${serial} of CN=Beta Issuing CA,O=Beta, partner beta, by ops on \\d{4}-\\d\\d-\\d\\d: lost laptop$`,
        'm',
      ),
    );
    const json = JSON.parse((await runCli(['status', '--json', ...store])).out);
    expect(json[0].revocation.manual).toEqual([
      expect.objectContaining({ serial, reason: 'lost laptop', by: 'ops', partner: 'beta' }),
    ]);
    const back = await runCli(['unrevoke', '--cert', file('beta.pem', beta.client.pem), ...store]);
    expect(back.code, back.err).toBe(0);
    expect(back.out).toMatch(
      /^taken back: serial .* of CN=Beta Issuing CA,O=Beta \(partner beta\) is no longer revoked by hand/,
    );
    const twice = await runCli(['unrevoke', '--serial', serial, '--issuer', prefix, '--json', ...store]);
    expect(twice.code).toBe(1);
    expect(JSON.parse(twice.out)).toMatchObject({ outcome: 'not-revoked-by-hand', revoked: false });
    expect(JSON.parse(twice.out).message).toMatch(/nothing was revoked by hand for serial/);
  });

  it('says a serial listed on a CRL stays revoked after unrevoke, and needs a new CRL', async () => {
    // A CRL of beta's issuing CA held by the store, listing beta's client (what CRL ingest records).
    const deps = { store: localStore({ dataDir: join(dir, '.trustroll'), inboxDir: join(dir, 'inbox') }) };
    const serial = parseCertificate(beta.client.der).serial;
    const records = toRecords([{ serial, reason: reasonCode('keyCompromise') }]);
    const sha = indexSha256(records);
    await deps.store.put(serialsKey(sha), records);
    const issuer = fp(beta.intermediate);
    const after = await changeState(deps.store, await loadState(deps.store), (state) => {
      const rev = revocationOf(state);
      const crl = {
        issuer,
        scope: '',
        uris: [],
        onlyUser: false,
        onlyCA: false,
        number: '1',
        thisUpdate: new Date().toISOString(),
        nextUpdate: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        sha256: 'c'.repeat(64),
        serials: sha,
        entries: 1,
        partner: 'beta',
        upload: { key: 'inbox/beta/issuing.crl', version: '1' },
        acceptedAt: new Date().toISOString(),
      };
      return {
        ...state,
        revocation: {
          ...rev,
          generation: rev.generation + 1,
          crls: { ...rev.crls, [crlKey(issuer, '')]: crl },
        },
      };
    });
    await publishIndex(deps.store, after.state, memoryLog());
    const cert = file('beta-crl.pem', beta.client.pem);
    const listed = await runCli(['unrevoke', '--cert', cert, '--json', ...store]);
    expect(listed.code, listed.err).toBe(1);
    expect(JSON.parse(listed.out)).toMatchObject({
      outcome: 'not-revoked-by-hand',
      revoked: true,
      listedOnCrl: true,
    });
    expect(JSON.parse(listed.out).message).toMatch(
      /listed on the CRL of CN=Beta Issuing CA,O=Beta and stays revoked: only a new CRL from partner beta without it takes that back/,
    );
    // Revoked by hand as well: taking that back still leaves the CRL's listing, and says so (exit 1).
    expect((await runCli(['revoke', '--cert', cert, '--reason', 'both', ...store])).code).toBe(0);
    const both = await runCli(['unrevoke', '--cert', cert, ...store]);
    expect(both.code).toBe(1);
    expect(both.out).toMatch(/^taken back: .* is no longer revoked by hand; but it is listed on the CRL/);
    const denied = await runCli(['authorize', '--cert', cert, '--json', ...store]);
    expect(JSON.parse(denied.out)).toMatchObject({ decision: 'deny', reasons: [{ code: 'cert.revoked' }] });
  });
});

describe('revoke --by', () => {
  it('states its default as the rule the command applies when it runs, not a value fixed when declared', async () => {
    const help = await runCli(['revoke', '--help']);
    expect(help.out).toMatch(/--by <who>\s+who asked \(default: \$USER, else cli\)/);
    const before = process.env.USER;
    process.env.USER = 'by-at-run-time';
    try {
      const r = await runCli([
        'revoke',
        '--serial',
        '7e57',
        '--issuer',
        fp(beta.intermediate),
        '--reason',
        'test of --by',
        '--json',
        ...store,
      ]);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).revocation.by).toBe('by-at-run-time');
    } finally {
      if (before === undefined) delete process.env.USER;
      else process.env.USER = before;
    }
    expect(
      (await runCli(['unrevoke', '--serial', '7e57', '--issuer', fp(beta.intermediate), ...store])).code,
    ).toBe(0);
  });
});

describe('rules', () => {
  it('refuses a partner with no CA, a pin that is not a SHA-256, a route that is not METHOD /path, a folder as --pin-cert', async () => {
    const nobody = await runCli(['rules', '--partner', 'nobody', ...store]);
    expect(nobody.code).toBe(2);
    expect(nobody.err).toMatch(/belongs to partner nobody: the partners are acme, beta/);
    const pin = await runCli(['rules', '--partner', 'acme', '--pin-key', 'abc', ...store]);
    expect(pin.code).toBe(2);
    expect(pin.err).toMatch(/--pin-key abc is not a SHA-256 \(64 hex digits\)/);
    const route = await runCli(['rules', '--partner', 'acme', '--route', 'orders/*', ...store]);
    expect(route.code).toBe(2);
    expect(route.err).toMatch(/--route "orders\/\*" is not "METHOD \/path"/);
    const folder = await runCli(['rules', '--partner', 'acme', '--pin-cert', dir, ...store]);
    expect(folder.code).toBe(2);
    expect(folder.err).toMatch(/--pin-cert wants a file/);
  });

  it('refuses a route no request could match plainly, and writes a method in capitals', async () => {
    for (const [route, why] of [
      ['* /health/..;/admin', /no \. or \.\. segments/],
      ['GET /health/a\\b', /without query, fragment, %-escapes or backslashes/],
    ] as const) {
      const r = await runCli(['rules', '--partner', 'beta', '--route', route, ...store]);
      expect(r.code, route).toBe(2);
      expect(r.err).toMatch(why);
      expect(r.err).not.toMatch(STACK);
    }
    const lower = await runCli([
      'rules',
      '--partner',
      'beta',
      '--route',
      'get /orders/*',
      '--json',
      ...store,
    ]);
    expect(lower.code, lower.err).toBe(0);
    expect(JSON.parse(lower.out)).toMatchObject({ routes: ['GET /orders/*'] });
    const cleared = await runCli(['rules', '--partner', 'beta', '--clear', ...store]);
    expect(cleared.code, cleared.err).toBe(0);
  });

  it("refuses a pin that could never match: a CA, another partner's client, a stranger", async () => {
    const ca = await runCli([
      'rules',
      '--partner',
      'acme',
      '--pin-cert',
      file('ca.pem', acme.intermediate.pem),
      ...store,
    ]);
    expect(ca.code).toBe(2);
    expect(ca.err).toMatch(/is a CA certificate .*pin the partner's client certificates/);
    const other = await runCli([
      'rules',
      '--partner',
      'acme',
      '--pin-cert',
      file('b.pem', beta.client.pem),
      ...store,
    ]);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/is a client of partner beta, not acme/);
    const strangerRoot = await root('CN=Pin Stranger');
    const stranger = await leaf('CN=pin stranger', strangerRoot, { key: 'p256' });
    const none = await runCli([
      'rules',
      '--partner',
      'acme',
      '--pin-cert',
      file('s.pem', stranger.pem),
      ...store,
    ]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/was not issued by a CA of the truststore/);
    for (const r of [ca, other, none]) expect(r.err).not.toMatch(STACK);
  });

  it('replaces only the kind given, keeps the other, and --clear removes what is not given', async () => {
    const routes = await runCli([
      'rules',
      '--partner',
      'acme',
      '--route',
      'GET /orders/*',
      'POST /orders',
      ...store,
    ]);
    expect(routes.code, routes.err).toBe(0);
    const pinned = await runCli([
      'rules',
      '--partner',
      'acme',
      '--pin-cert',
      file('acme.pem', acme.client.pem),
      '--pin-key',
      'AB'.repeat(32),
      '--json',
      ...store,
    ]);
    expect(pinned.code, pinned.err).toBe(0);
    expect(JSON.parse(pinned.out)).toMatchObject({
      partner: 'acme',
      pins: [fp(acme.client), 'ab'.repeat(32)],
      routes: ['GET /orders/*', 'POST /orders'],
      changed: true,
    });
    const shown = await runCli(['rules', '--partner', 'acme', ...store]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/routes: GET \/orders\/\*, POST \/orders/);
    expect((await runCli(['status', ...store])).out).toMatch(
      /^ {2}rules of acme: 2 pinned clients; routes GET \/orders\/\*, POST \/orders$/m,
    );
    const same = await runCli([
      'rules',
      '--partner',
      'acme',
      '--route',
      'GET /orders/*',
      'POST /orders',
      ...store,
    ]);
    expect(same.out).toMatch(/unchanged: these were the rules already/);
    const clearPins = await runCli([
      'rules',
      '--partner',
      'acme',
      '--clear',
      '--route',
      'GET /orders/*',
      '--json',
      ...store,
    ]);
    expect(JSON.parse(clearPins.out)).toMatchObject({ pins: [], routes: ['GET /orders/*'] });
    const cleared = await runCli(['rules', '--partner', 'acme', '--clear', '--json', ...store]);
    expect(JSON.parse(cleared.out)).toMatchObject({ pins: [], routes: [], changed: true });
  });
});

describe('authorize', () => {
  it('refuses a malformed route, --stale-crl or --grace, and a file with no certificate', async () => {
    const client = file('client.pem', acme.client.pem);
    const route = await runCli(['authorize', '--cert', client, '--route', 'orders', ...store]);
    expect(route.code).toBe(2);
    expect(route.err).toMatch(/--route "orders" is not "METHOD \/path"/);
    // A request always has a method: a bare path is a rule's form, not a request's.
    for (const command of ['authorize', 'diagnose']) {
      const bare = await runCli([command, '--cert', client, '--route', '/orders/7', ...store]);
      expect(bare.code, command).toBe(2);
      expect(bare.err).toMatch(
        /--route "\/orders\/7" names no method, and every request has one: write it like "GET \/orders\/7"/,
      );
    }
    const stale = await runCli(['authorize', '--cert', client, '--stale-crl', 'maybe', ...store]);
    expect(stale.code).toBe(2);
    expect(stale.err).toMatch(/--stale-crl is deny or allow; got "maybe"/);
    const grace = await runCli(['authorize', '--cert', client, '--grace', '-1', ...store]);
    expect(grace.code).toBe(2);
    // A CRL where the client goes (PEM and DER): named as such, not with the upload message.
    const der = await crl(acme.intermediate, [acme.client]);
    for (const [name, body] of [
      ['crl.pem', pemBlock('X509 CRL', der)],
      ['crl.der', der],
    ] as const) {
      const given = await runCli(['authorize', '--cert', file(name, body), ...store]);
      expect(given.code, name).toBe(2);
      expect(given.err).toMatch(
        /is a certificate revocation list, not a client certificate: name the client certificate file/,
      );
    }
    const none = await runCli(['authorize', '--cert', file('none.pem', 'no cert'), ...store, '--json']);
    expect(none.code).toBe(2);
    expect(JSON.parse(none.out)).toMatchObject({
      status: 2,
      error: expect.stringMatching(/no readable certificate/),
    });
  });

  it('says that diagnose of a bundle given as a file consulted no revocation index', async () => {
    const bundle = file('bundle.pem', pemOf(acme.root, acme.intermediate));
    const client = file('client.pem', acme.client.pem);
    const r = await runCli(['diagnose', '--truststore', bundle, '--cert', client]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /note: judged against the --truststore bundle alone: no revocation index was consulted.*add --store/,
    );
    const asked = await runCli([
      'diagnose',
      '--truststore',
      bundle,
      '--cert',
      client,
      ...store.map((a) => (a === '--data-dir' ? '--store' : a)),
    ]);
    expect(asked.err).not.toMatch(/no revocation index was consulted/);
  });

  it('says to run the pipeline first when the store has no index yet', async () => {
    const bare = join(dir, 'bare');
    mkdirSync(join(bare, 'store'), { recursive: true });
    const r = await runCli(['authorize', '--cert', file('client.pem', acme.client.pem), '--data-dir', bare]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/has no revocation index yet: .*run the pipeline first/);
    expect(r.err).not.toMatch(STACK);
  });

  it('says so when the serial revoked by hand is a CA of the truststore, and denies its clients', async () => {
    const serial = parseCertificate(beta.intermediate.der).serial;
    const r = await runCli([
      'revoke',
      '--serial',
      serial,
      '--issuer',
      fp(beta.root),
      '--reason',
      'CA key lost',
      ...store,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /that serial is the truststore CA CN=Beta Issuing CA,O=Beta \(partner beta\): every client under it is denied/,
    );
    const denied = await runCli([
      'authorize',
      '--cert',
      file('beta-client.pem', beta.client.pem),
      '--json',
      ...store,
    ]);
    // (An earlier test may have revoked the client itself too.)
    expect(JSON.parse(denied.out).reasons.map((x: { code: string }) => x.code)).toContain('ca.revoked');
    // unrevoke of the client does not say "it is not revoked" while a CA above it is.
    const client = await runCli(['unrevoke', '--cert', file('beta-client.pem', beta.client.pem), ...store]);
    expect(client.code).toBe(1);
    expect(client.out).not.toMatch(/it is not revoked/);
    expect(client.out).toMatch(
      /CN=Beta Issuing CA,O=Beta above it is revoked .*so it stays denied \(ca\.revoked\)/,
    );
    expect((await runCli(['unrevoke', '--serial', serial, '--issuer', fp(beta.root), ...store])).code).toBe(
      0,
    );
  });

  it('denies a forged certificate: the issuer it names is held, its key did not sign it', async () => {
    const stranger = await partnerChain('Stranger');
    // Acme's issuer name, another key.
    const forged = await leaf('CN=forged,O=Acme', stranger.intermediate, {
      issuerName: 'CN=Acme Issuing CA,O=Acme',
      aki: false,
      key: 'p256',
    });
    const r = await runCli(['authorize', '--cert', file('forged.pem', forged.pem), '--json', ...store]);
    expect(r.code, r.err).toBe(1);
    const decision = JSON.parse(r.out);
    expect(decision.decision).toBe('deny');
    expect(decision.reasons[0]).toMatchObject({
      code: 'signature.invalid',
      message: expect.stringContaining('no key of that CA in the truststore verifies its signature'),
    });
  });

  it('denies a certificate of another key under the issuing CA name whose key identifier names that other key', async () => {
    // What openssl writes by default: the AKI of the key that really signed, which no held CA has.
    const impostor = await root('CN=Acme Issuing CA,O=Acme', { keySlot: 'cli-impostor' });
    const forged = await leaf('CN=forged-aki,O=Acme', impostor, { key: 'p256' });
    const r = await runCli(['authorize', '--cert', file('forged-aki.pem', forged.pem), '--json', ...store]);
    expect(r.code, r.err).toBe(1);
    const decision = JSON.parse(r.out);
    expect(decision.decision).toBe('deny');
    expect(decision.reasons[0]).toMatchObject({
      code: 'signature.invalid',
      message: expect.stringContaining('no key of that CA in the truststore verifies its signature'),
    });
    // A stranger (no held CA of its issuer's name) stays issuer.unknown.
    const stranger = await leaf('CN=nobody', await root('CN=Nobody Root', { keySlot: 'cli-nobody' }), {
      key: 'p256',
    });
    const s = await runCli(['authorize', '--cert', file('nobody.pem', stranger.pem), '--json', ...store]);
    expect(s.code, s.err).toBe(1);
    expect(JSON.parse(s.out).reasons.map((x: { code: string }) => x.code)).toEqual(['issuer.unknown']);
  });

  it('decides for the first certificate of a file of several, and prints the decision as JSON', async () => {
    const chain = file('chain.pem', pemOf(acme.client, acme.intermediate));
    const r = await runCli(['authorize', '--cert', chain, '--route', 'GET /x', '--json', ...store]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      decision: 'allow',
      partner: 'acme',
      reasons: [],
      context: expect.objectContaining({
        partner: 'acme',
        certSha256: fp(acme.client),
        subject: 'CN=client.acme.example,O=Acme',
      }),
    });
    expect(r.err).toMatch(/deciding with revocation index version \d+/);
  });
});

describe('unrevoke of a CA revoked through its key', () => {
  it('says the key is revoked and the CA stays denied, not that it is not revoked', async () => {
    const home = mkdtempSync(join(tmpdir(), 'trustroll-unrevoke-key-'));
    const at = ['--data-dir', join(home, '.trustroll')];
    const gamma = await partnerChain('Gamma');
    // The same key under a second name of the partner's.
    const second = await intermediate('CN=Gamma Issuing CA 2,O=Gamma', gamma.root, {
      spki: parseCertificate(gamma.intermediate.der).publicKey.spki,
    });
    mkdirSync(join(home, 'inbox', 'gamma'), { recursive: true });
    writeFileSync(join(home, 'inbox', 'gamma', 'ca.pem'), pemOf(gamma.root, gamma.intermediate, second));
    expect((await runCli(['ingest', ...at, '--inbox', join(home, 'inbox')])).code).toBe(0);
    const first = join(home, 'first.pem');
    writeFileSync(first, gamma.intermediate.pem);
    const revoked = await runCli(['revoke', '--cert', first, '--reason', 'key leaked', ...at]);
    expect(revoked.code, revoked.err).toBe(0);
    const other = join(home, 'second.pem');
    writeFileSync(other, second.pem);
    const r = await runCli(['unrevoke', '--cert', other, ...at]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^nothing was revoked by hand for serial [0-9a-f]+ of CN=Gamma Root CA,O=Gamma \(partner gamma\), so nothing changed; its key is revoked \(the key of CN=Gamma Issuing CA,O=Gamma \(serial [0-9a-f]+\), revoked: revoked by hand .*key leaked\), so it stays denied \(ca\.revoked\) until that revocation is taken back/,
    );
    expect(r.out).not.toMatch(/it is not revoked/);
    // A client certificate made for that key: denied as cert.revoked, and unrevoke says why.
    const forKey = join(home, 'for-key.pem');
    writeFileSync(
      forKey,
      (
        await leaf('CN=for-key,O=Gamma', gamma.intermediate, {
          spki: parseCertificate(gamma.intermediate.der).publicKey.spki,
        })
      ).pem,
    );
    const json = await runCli(['unrevoke', '--cert', forKey, '--json', ...at]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      outcome: 'not-revoked-by-hand',
      revoked: true,
      keyRevoked: {
        source: expect.stringMatching(
          /^the key of CN=Gamma Issuing CA,O=Gamma \(serial [0-9a-f]+\), revoked/,
        ),
      },
      message: expect.stringMatching(/its key is revoked .* so it stays denied \(cert\.revoked\)/),
    });
  });
});

describe('revoke of a root', () => {
  it('is refused for a root held or removed lately, by certificate and by serial under itself', async () => {
    const home = mkdtempSync(join(tmpdir(), 'trustroll-revoke-root-'));
    const at = ['--data-dir', join(home, '.trustroll')];
    const delta = await partnerChain('Delta');
    mkdirSync(join(home, 'inbox', 'delta'), { recursive: true });
    writeFileSync(join(home, 'inbox', 'delta', 'ca.pem'), pemOf(delta.root, delta.intermediate));
    // Another partner, so that removing delta leaves a truststore.
    mkdirSync(join(home, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(home, 'inbox', 'acme', 'ca.pem'), pemOf(acme.root, acme.intermediate));
    expect((await runCli(['ingest', ...at, '--inbox', join(home, 'inbox')])).code).toBe(0);
    const rootFile = join(home, 'root.pem');
    writeFileSync(rootFile, delta.root.pem);
    const serial = parseCertificate(delta.root.der).serial;
    const bySerial = await runCli([
      'revoke',
      '--serial',
      serial,
      '--issuer',
      fp(delta.root),
      '--reason',
      'x',
      ...at,
    ]);
    expect(bySerial.code).toBe(2);
    expect(bySerial.err).toMatch(/is that root CA itself: no CA above it can revoke it/);
    const removed = await runCli([
      'remove',
      '--partner',
      'delta',
      '--reason',
      'offboarded',
      ...at,
      '--inbox',
      join(home, 'inbox'),
    ]);
    expect(removed.code, removed.err).toBe(0);
    const retired = await runCli(['revoke', '--cert', rootFile, '--reason', 'x', ...at]);
    expect(retired.code).toBe(2);
    expect(retired.err).toMatch(
      /CN=Delta Root CA,O=Delta, a root CA of the truststore \(removed lately, still retired\): no CA above it can revoke it/,
    );
    expect(
      (await runCli(['revoke', '--serial', serial, '--issuer', fp(delta.root), '--reason', 'x', ...at])).code,
    ).toBe(2);
    // A root revoked by hand before this refusal existed (recorded in the state) can still be taken back.
    const folder = localStore({ dataDir: join(home, '.trustroll'), inboxDir: join(home, 'inbox') });
    await changeState(folder, await loadState(folder), (s) => ({
      ...s,
      revocation: {
        ...revocationOf(s),
        manual: [
          ...revocationOf(s).manual,
          { issuer: fp(delta.root), serial, reason: 'older code', by: 'x', at: new Date().toISOString() },
        ],
        generation: revocationOf(s).generation + 1,
      },
    }));
    const back = await runCli(['unrevoke', '--serial', serial, '--issuer', fp(delta.root), ...at]);
    expect(back.code, back.err).toBe(0);
    expect(back.out).toMatch(/^taken back: serial /);
    // Its partner may upload it again: nothing was recorded against its key.
    writeFileSync(join(home, 'inbox', 'delta', 'again.pem'), pemOf(delta.root, delta.intermediate));
    const again = await runCli(['ingest', ...at, '--inbox', join(home, 'inbox')]);
    expect(again.code, again.out + again.err).toBe(0);
  });
});
