import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pemToDer } from '../../shared/pki/certificate.js';
import { parseCrl } from '../../shared/pki/crl.js';
import { readInput } from '../../shared/pki/read.js';
import { type VerifyResult, verifyClient } from '../../shared/pki/verify.js';

/** x509-limbo, client-certificate subset (vendored from ../shared/conformance: corpus/README.md). */
export const LIMBO = resolve('test', 'conformance', 'corpus', 'x509-limbo-mtls.json');

export interface LimboCase {
  readonly id: string;
  readonly trusted_certs: string[] | string;
  readonly untrusted_intermediates: string[];
  readonly peer_certificate: string;
  readonly validation_time: string | null;
  readonly max_chain_depth: number | null;
  readonly expected_result: 'SUCCESS' | 'FAILURE';
  readonly validation_kind: 'SERVER' | 'CLIENT';
  readonly crls: string[] | string;
}

const list = (v: string[] | string): string[] =>
  Array.isArray(v) ? v : (JSON.parse(v.replace(/'/g, '"')) as string[]);

export const loadLimbo = (): LimboCase[] =>
  (JSON.parse(readFileSync(LIMBO, 'utf8')) as { testcases: LimboCase[] }).testcases;

export type OpensslVerdict = { ok: boolean; output: string };

/**
 * OpenSSL's verdicts depend only on the corpus and the openssl binary, not on trustroll: they are
 * kept in a file keyed by both, so repeated runs (mutation testing runs this suite once per
 * mutant) spawn openssl 199 times once, not every time.
 */
const verdictCache = (() => {
  const version = spawnSync('openssl', ['version', '-a'], { encoding: 'utf8' }).stdout;
  const key = createHash('sha256').update(version).update(readFileSync(LIMBO)).digest('hex').slice(0, 16);
  const file = join(tmpdir(), `trustroll-limbo-openssl-${key}.json`);
  let cached: Record<string, OpensslVerdict> = {};
  try {
    cached = JSON.parse(readFileSync(file, 'utf8')) as Record<string, OpensslVerdict>;
  } catch {}
  return {
    get: (id: string) => cached[id],
    set: (id: string, verdict: OpensslVerdict) => {
      cached[id] = verdict;
      // Written whole and renamed: parallel test workers never read half a file.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(cached));
      renameSync(tmp, file);
    },
  };
})();

/** OpenSSL's verdict: `openssl verify -purpose sslserver|sslclient -CAfile … -untrusted … -attime …`. */
export const opensslVerdict = (c: LimboCase): OpensslVerdict => {
  // A case without a validation time is judged at the current time: its verdict is not kept.
  const id = c.validation_time ? c.id : `${c.id}@${new Date().toISOString().slice(0, 10)}`;
  const known = verdictCache.get(id);
  if (known) return known;
  const verdict = runOpenssl(c);
  verdictCache.set(id, verdict);
  return verdict;
};

/**
 * `openssl verify` on one case, not cached: for tests that build their certificates afresh on
 * each run (test/unit/pki/name-constraints.test.ts), whose verdicts cannot be kept by id.
 */
export const runOpenssl = (c: LimboCase): OpensslVerdict => {
  const dir = mkdtempSync(join(tmpdir(), 'limbo-'));
  writeFileSync(join(dir, 'trusted.pem'), list(c.trusted_certs).join('\n'));
  writeFileSync(join(dir, 'untrusted.pem'), c.untrusted_intermediates.join('\n'));
  writeFileSync(join(dir, 'peer.pem'), c.peer_certificate);
  const args = [
    'verify',
    '-purpose',
    c.validation_kind === 'CLIENT' ? 'sslclient' : 'sslserver',
    '-CAfile',
    join(dir, 'trusted.pem'),
  ];
  if (c.untrusted_intermediates.length > 0) args.push('-untrusted', join(dir, 'untrusted.pem'));
  if (c.validation_time) args.push('-attime', String(Math.floor(Date.parse(c.validation_time) / 1000)));
  if (c.max_chain_depth !== null) args.push('-verify_depth', String(c.max_chain_depth));
  args.push(join(dir, 'peer.pem'));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
};

const certs = (pems: readonly string[]) =>
  pems.flatMap((pem, i) =>
    readInput({ name: `cert ${i}`, bytes: new Uint8Array(Buffer.from(pem)) }).certificates.map((c) => c.cert),
  );

const crlsOf = (c: LimboCase) =>
  list(c.crls).flatMap((pem) => {
    try {
      return [parseCrl(pemToDer(pem))];
    } catch {
      return [];
    }
  });

/**
 * trustroll diagnose's verdict on the same case, as a plain OpenSSL endpoint (API Gateway's extra
 * rule about intermediates only the client sends is left out: the corpus tests path validation).
 */
export const diagnoseVerdict = (c: LimboCase): VerifyResult | undefined => {
  const [leaf] = certs([c.peer_certificate]);
  if (!leaf) return undefined;
  return verifyClient({
    leaf,
    sent: certs(c.untrusted_intermediates),
    trusted: certs(list(c.trusted_certs)),
    at: c.validation_time ? new Date(c.validation_time) : new Date(),
    purpose: c.validation_kind === 'CLIENT' ? 'clientAuth' : 'serverAuth',
    ...(c.max_chain_depth === null ? {} : { maxDepth: c.max_chain_depth }),
    apiGateway: false,
    // `openssl verify` applies no security level unless asked (-auth_level).
    securityLevel: 0,
    crls: crlsOf(c),
  });
};
