import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, build, outbox, type Running, startUp, waitFor } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Revocation by hand and partner rules against the local endpoint of `trustroll up`, with the
 * real curl: the authorizer's decision after the handshake, changed from another process
 * (`trustroll revoke`, `unrevoke`, `rules`) while `up` runs, and `trustroll authorize`'s exit
 * statuses and JSON. No timing is asserted: the endpoint is waited for, widely.
 */
let dir: string;
let up: Running;
const data = () => join(dir, '.trustroll');
const demo = (f: string) => join(data(), 'demo', f);
const ca = () => join(data(), 'endpoint', 'ca.pem');

const cli = (args: readonly string[]) => {
  const r = spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
};

/** curl GET `path` as a demo client (`acme-client`, `stranger-client`): HTTP status and body. */
const get = (who: string, path = '/') => {
  const r = spawnSync(
    'curl',
    [
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      ca(),
      '--cert',
      demo(`${who}.pem`),
      '--key',
      demo(`${who}.key`),
      '-w',
      '\n%{http_code}',
      `https://localhost:${up.port}${path}`,
    ],
    { encoding: 'utf8' },
  );
  const lines = r.stdout.split('\n');
  const code = Number(lines.pop());
  return { curl: r.status, code, body: lines.join('\n'), error: r.stderr };
};

/** Waits (widely: a loaded CI machine) until `who` gets `code` on `path`, and returns that answer. */
const until = (code: number, who: string, path = '/') =>
  waitFor(
    () => {
      const r = get(who, path);
      return r.code === code ? r : undefined;
    },
    60_000,
    up.output,
  );

const STACK = /\n\s+at \S.*:\d+:\d+\)?|unexpected failure/;

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-revocation-'));
  up = await startUp(dir);
  mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'acme', 'acme-ca-bundle.pem'), readFileSync(demo('acme-ca-bundle.pem')));
  await waitFor(() => outbox(data()).some((n) => n.eventType === 'truststore.rolled'), 60_000, up.output);
}, 120_000);

afterAll(async () => {
  await up?.stop();
});

describe('the local endpoint applies the authorizer after the handshake', () => {
  it('serves the demo client (200, with its partner) once its CAs are in', async () => {
    const ok = await until(200, 'acme-client');
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, partner: 'acme' });
    // Before the first truststore version there was no index: said once, not enforced.
    expect(up.output()).toMatch(/revocation not enforced {2}reason=no revocation index published yet/);
  }, 90_000);

  it('denies a client revoked by hand from another process with 403 and the reason, and logs it', async () => {
    const r = cli(['revoke', '--cert', demo('acme-client.pem'), '--reason', 'test']);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toMatch(
      /^revoked: CN=client\.acme\.example,O=Acme \(serial [0-9a-f]+\) of CN=Acme Issuing CA,O=Acme, partner acme: test/,
    );
    const denied = await until(403, 'acme-client');
    const body = JSON.parse(denied.body);
    expect(body).toMatchObject({ decision: 'deny', partner: 'acme', reason: 'cert.revoked' });
    expect(body.reasons).toEqual([
      {
        code: 'cert.revoked',
        message: expect.stringMatching(/is revoked by CN=Acme Issuing CA,O=Acme by hand \(test;/),
      },
    ]);
    await waitFor(
      () => /request refused {2}reason=.*by hand \(test;.* code=cert\.revoked partner=acme/.test(up.output()),
      30_000,
      up.output,
    );
  }, 90_000);

  it('authorize says deny for the revoked client: exit 1 and the decision as JSON', () => {
    const r = cli(['authorize', '--cert', demo('acme-client.pem'), '--json']);
    expect(r.status, r.err).toBe(1);
    const decision = JSON.parse(r.out);
    expect(decision).toMatchObject({
      decision: 'deny',
      partner: 'acme',
      reasons: [{ code: 'cert.revoked' }],
      context: { partner: 'acme', subject: 'CN=client.acme.example,O=Acme' },
    });
    expect(Object.keys(decision).sort()).toEqual(['context', 'decision', 'partner', 'reasons']);
  }, 60_000);

  it('diagnose, which judges against the store, says the authorizer denies it', () => {
    const r = cli(['diagnose', '--cert', demo('acme-client.pem'), '--json']);
    expect(r.status, r.err).toBe(1);
    const json = JSON.parse(r.out);
    expect(json.verdict).toBe('reject');
    expect(json.reasons[0]).toMatchObject({
      code: 'cert.revoked',
      message: expect.stringMatching(/^the authorizer denies it: /),
    });
    expect(json.authorizer).toMatchObject({ decision: 'deny', partner: 'acme' });
  }, 60_000);

  it('serves the client again after unrevoke, and says so when nothing was revoked by hand', async () => {
    const r = cli(['unrevoke', '--cert', demo('acme-client.pem')]);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toMatch(/^taken back: /);
    await until(200, 'acme-client');
    const again = cli(['unrevoke', '--cert', demo('acme-client.pem')]);
    expect(again.status).toBe(1);
    expect(again.out).toMatch(/nothing was revoked by hand for serial/);
    const allow = cli(['authorize', '--cert', demo('acme-client.pem'), '--route', 'GET /orders/1', '--json']);
    expect(allow.status, allow.err).toBe(0);
    expect(JSON.parse(allow.out)).toMatchObject({ decision: 'allow', partner: 'acme', reasons: [] });
  }, 90_000);

  it('puts in force a revoke that stopped between its state commit and the index publish', async () => {
    // The revoke as `trustroll revoke` makes it, killed (exit 137) when it comes to write the index.
    const script = join(dir, 'killed-revoke.mts');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { localStore } from '${ROOT}/cli/local.ts';
import { parseCertificate, pemToDer } from '${ROOT}/shared/pki/certificate.ts';
import { revokeCertificate } from '${ROOT}/shared/pipeline/revocation.ts';
import { loadState } from '${ROOT}/shared/pipeline/state-store.ts';
import { issuerEntryOf } from '${ROOT}/shared/revocation/issuer-entry.ts';
import { REVOCATION_KEYS } from '${ROOT}/shared/revocation/state.ts';
const store = localStore({ dataDir: '.trustroll', inboxDir: 'inbox' });
const cert = parseCertificate(pemToDer(readFileSync(${JSON.stringify(demo('acme-client.pem'))}, 'utf8')));
const found = issuerEntryOf((await loadState(store)).state.entries, cert);
if (!('entry' in found)) throw new Error('the demo client has no issuer in the store');
const issuer = found.entry;
const killed = new Proxy(store, {
  get(target, name) {
    const value = Reflect.get(target, name, target);
    if (name !== 'put') return typeof value === 'function' ? value.bind(target) : value;
    return (key: string, ...rest: unknown[]) =>
      key === REVOCATION_KEYS.index ? process.exit(137) : value.call(target, key, ...rest);
  },
});
await revokeCertificate(
  { store: killed, log: { debug() {}, info() {}, warn() {}, error() {} }, clock: { now: () => new Date() } },
  { issuer: issuer.fingerprint, serial: cert.serial, reason: 'killed mid-way', by: 'test' },
);
`,
    );
    const killedRun = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [script], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(killedRun.status, killedRun.stderr).toBe(137);
    // The state holds the revocation, the index not: up sees the state change and publishes it.
    const denied = await until(403, 'acme-client');
    expect(JSON.parse(denied.body).reasons[0].message).toMatch(/by hand \(killed mid-way;/);
    const status = cli(['status']);
    expect(status.out).not.toMatch(/INDEX BEHIND|DAMAGED/);
    const back = cli(['unrevoke', '--cert', demo('acme-client.pem')]);
    expect(back.status, back.err).toBe(0);
    await until(200, 'acme-client');
  }, 120_000);

  it("still refuses a stranger's certificate in the handshake; authorize denies it, revoke refuses it", async () => {
    const r = get('stranger-client');
    expect(r.curl).not.toBe(0);
    expect(r.body).toBe('');
    await waitFor(() => /handshake refused {2}reason=unknown issuer/.test(up.output()), 30_000, up.output);
    const decision = cli(['authorize', '--cert', demo('stranger-client.pem'), '--json']);
    expect(decision.status).toBe(1);
    expect(JSON.parse(decision.out)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'issuer.unknown' }],
    });
    const revoke = cli(['revoke', '--cert', demo('stranger-client.pem'), '--reason', 'x']);
    expect(revoke.status).toBe(2);
    expect(revoke.err).toMatch(/which is not a CA of the truststore of \.trustroll/);
  }, 90_000);

  it('a route rule makes another route 403 and leaves the allowed one served', async () => {
    const set = cli(['rules', '--partner', 'acme', '--route', 'GET /orders/*']);
    expect(set.status, set.err).toBe(0);
    const denied = await until(403, 'acme-client', '/admin');
    expect(JSON.parse(denied.body)).toMatchObject({ reason: 'route.denied', partner: 'acme' });
    expect(get('acme-client', '/orders/1?x=1').code).toBe(200);
    const authorize = cli(['authorize', '--cert', demo('acme-client.pem'), '--route', 'DELETE /orders/1']);
    expect(authorize.status).toBe(1);
    expect(authorize.out).toMatch(
      /^DENY: .*\n {2}why: {2}Partner acme may call only GET \/orders\/\*, not DELETE \/orders\/1\. {2}\[route\.denied\]/,
    );
    expect(cli(['rules', '--partner', 'acme', '--clear']).status).toBe(0);
    await until(200, 'acme-client', '/admin');
  }, 120_000);

  it("denies the demo client once the demo CRL is dropped into the partner's crl folder", async () => {
    mkdirSync(join(dir, 'inbox', 'acme', 'crl'), { recursive: true });
    writeFileSync(
      join(dir, 'inbox', 'acme', 'crl', 'issuing.crl'),
      readFileSync(demo('acme-revokes-client.crl')),
    );
    const denied = await until(403, 'acme-client');
    const body = JSON.parse(denied.body);
    expect(body).toMatchObject({ decision: 'deny', partner: 'acme', reason: 'cert.revoked' });
    expect(body.reasons[0].message).toMatch(/revoked by CN=Acme Issuing CA,O=Acme's CRL #1/);
    const accepted = outbox(data()).find((n) => n.eventType === 'crl.accepted');
    expect(accepted).toMatchObject({ partner: 'acme', severity: 'info' });
    // The CRL's bytes are not kept; its report is, and the inbox is empty again.
    await waitFor(
      () =>
        !spawnSync('ls', [join(dir, 'inbox', 'acme', 'crl')], { encoding: 'utf8' }).stdout.includes(
          'issuing.crl',
        ),
      30_000,
      up.output,
    );
    // unrevoke cannot take back what a CRL lists.
    const un = cli(['unrevoke', '--cert', demo('acme-client.pem')]);
    expect(un.status).toBe(1);
    expect(un.out + un.err).toMatch(/CRL/);
    // The stranger is still refused in the handshake, before any authorizer.
    expect(get('stranger-client').curl).not.toBe(0);
    // status says what the store holds about revocation.
    const status = cli(['status']);
    expect(status.out).toMatch(
      /^revocation: 1 CRL held \(next due \d{4}-\d\d-\d\d: CN=Acme Issuing CA,O=Acme\), 0 revoked by hand, rules for 0 partners$/m,
    );
    const json = JSON.parse(cli(['status', '--json']).out);
    expect(json[0].revocation.crls).toEqual([
      expect.objectContaining({
        issuer: 'CN=Acme Issuing CA,O=Acme',
        partner: 'acme',
        number: '1',
        revoked: 1,
        stale: false,
      }),
    ]);
  }, 120_000);

  it('authorize exits 2 for a file that cannot be read, a folder with no store, and a store with no index', () => {
    const missing = cli(['authorize', '--cert', 'missing.pem', '--json']);
    expect(missing.status).toBe(2);
    expect(JSON.parse(missing.out)).toMatchObject({
      status: 2,
      error: expect.stringMatching(/missing\.pem/),
    });
    const nowhere = cli(['authorize', '--cert', demo('acme-client.pem'), '--data-dir', 'nowhere']);
    expect(nowhere.status).toBe(2);
    expect(nowhere.err).toMatch(/nowhere holds no trustroll store/);
    mkdirSync(join(dir, 'fresh', 'store'), { recursive: true });
    const fresh = cli(['authorize', '--cert', demo('acme-client.pem'), '--data-dir', 'fresh']);
    expect(fresh.status).toBe(2);
    expect(fresh.err).toMatch(/no revocation index yet: .*run the pipeline first/);
    for (const r of [missing, nowhere, fresh]) expect(r.err).not.toMatch(STACK);
  }, 60_000);
});
