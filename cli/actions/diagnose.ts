import { stat } from 'node:fs/promises';
import { exportTruststore } from '../../shared/pipeline/lifecycle.js';
import { type Certificate, verifySignedBy } from '../../shared/pki/certificate.js';
import type { Crl } from '../../shared/pki/crl.js';
import { keyMatches } from '../../shared/pki/key-match.js';
import { readInput } from '../../shared/pki/read.js';
import { type Purpose, type Reason, type VerifyResult, verifyClient } from '../../shared/pki/verify.js';
import { type AuthorizeDecision, authorize } from '../../shared/revocation/authorize.js';
import { covers, readRevocationLists, removalsInFullCrl } from '../../shared/revocation/crl.js';
import { printable, shown } from '../../shared/text.js';
import { fileOnly, type Io, jsonOut, loadInputs, UsageError } from '../io.js';
import { depsFor, noStoreMessage, openStore, type StoreDeps, type StoreFlags } from '../stores.js';
import { checkedIndex, requestRouteProblem } from './revocation.js';

export interface DiagnoseFlags extends Pick<StoreFlags, 'dataDir' | 'store' | 'region' | 'profile'> {
  readonly truststore?: string;
  readonly cert: string;
  readonly chain?: string;
  readonly key?: string;
  readonly crl?: string;
  readonly at?: Date;
  readonly purpose: Purpose;
  readonly json?: boolean;
  readonly plainTls?: boolean;
  readonly route?: string;
}

/** The store's current truststore version, named on stderr so stdout stays the verdict alone. */
const currentTruststore = async (flags: DiagnoseFlags, io: Io) => {
  const deps = await depsFor(flags.store, { ...flags, inbox: 'inbox' }, io);
  if (!(await deps.holdsStore()))
    throw new UsageError(
      `no --truststore given, and ${noStoreMessage(deps.label, deps.kind)}; or pass --truststore <file|dir>`,
    );
  const exported = await exportTruststore(deps.store);
  io.err(
    shown`judging against truststore version ${exported.version} (revision ${String(exported.revision)}) of ${deps.label}\n`,
  );
  return { deps, name: `${deps.label} truststore version ${exported.version}`, bytes: exported.body };
};

/**
 * The authorizer's decision on a client the handshake accepts, from the store's revocation index
 * (none published yet: no decision). Without `--route`, a partner's route rules cannot be
 * checked: that is a warning here, not a denial.
 */
const authorizerOn = async (
  deps: StoreDeps,
  leaf: Certificate,
  flags: DiagnoseFlags,
  io: Io,
): Promise<{ decision: AuthorizeDecision; unchecked: Reason[] } | undefined> => {
  // Missing, edited or behind the state: refused (exit 4), as `authorize` refuses it.
  const loaded = await checkedIndex(deps);
  if (!loaded) {
    io.err(
      shown`note: ${deps.label} has published no truststore version yet, so no revocation index: the authorizer was not consulted\n`,
    );
    return undefined;
  }
  const decision = authorize(loaded.index, leaf, flags.route?.trim(), { now: flags.at ?? new Date() });
  const unchecked =
    flags.route === undefined ? decision.reasons.filter((r) => r.code === 'route.missing') : [];
  const reasons = decision.reasons.filter((r) => !unchecked.includes(r));
  return {
    decision:
      decision.decision === 'deny' && reasons.length === 0
        ? { ...decision, decision: 'allow', reasons }
        : { ...decision, reasons },
    unchecked: unchecked.map((r) => ({
      code: r.code,
      message: `${r.message.replace(/: give the route to decide\.$/, '')}: pass --route "METHOD /path" to check it.`,
    })),
  };
};

export interface Certificates {
  readonly certificates: Certificate[];
  /** Why a file gave no certificate. */
  readonly problem?: string;
}

const certificatesOf = (inputs: Awaited<ReturnType<typeof loadInputs>>, what: string): Certificates => {
  const certificates: Certificate[] = [];
  let problem: string | undefined;
  for (const input of inputs) {
    const read = readInput(input);
    const key = read.findings.find((f) => f.code === 'input.private-key');
    if (key && what !== 'cert')
      throw new UsageError(`the ${what} ${input.name} holds a private key: pass keys only with --key`);
    const bad = read.findings.find((f) => f.code === 'input.unparseable');
    if (read.certificates.length === 0) problem ??= bad ? bad.message : `${input.name} holds no certificate`;
    certificates.push(...read.certificates.map((c) => c.cert));
  }
  return problem === undefined ? { certificates } : { certificates, problem };
};

/**
 * The truststore: a PEM file, or a folder whose certificate files are read and whose other files
 * (the README `pki init` writes, notes) are skipped, as a folder of CA files is meant.
 */
const truststoreOf = async (path: string, io: Io): Promise<Certificates> => {
  if (path === '-' || !(await stat(path).catch(() => undefined))?.isDirectory())
    return certificatesOf(await loadInputs([path], io), 'truststore');
  // A folder (`pki init` writes client.key beside the CAs): key files are skipped, never trusted.
  const inputs = (await loadInputs([path], io)).filter((input) => {
    const isKey =
      /\.key$/i.test(input.name) || readInput(input).findings.some((f) => f.code === 'input.private-key');
    if (isKey)
      io.err(
        shown`note: skipped ${input.name} in the truststore folder: it holds a private key, not a CA certificate\n`,
      );
    return !isKey;
  });
  const certificates = inputs.flatMap((input) => certificatesOf([input], 'truststore').certificates);
  return certificates.length > 0
    ? { certificates }
    : { certificates, problem: `${path} holds no certificate file` };
};

/**
 * The critical extensions OpenSSL cannot process: of the CRL, all but the issuing distribution
 * point, the authority key identifier and the delta CRL indicator; of an entry, all but
 * certificateIssuer (a critical reasonCode or invalidityDate too).
 */
const HANDLED_CRITICAL = new Set(['2.5.29.28', '2.5.29.35', '2.5.29.27', 'entry:2.5.29.29']);
const unhandledCritical = (critical: readonly string[]): string[] =>
  critical
    .filter((oid) => !HANDLED_CRITICAL.has(oid))
    .map((oid) => (oid.startsWith('entry:') ? `${oid.slice(6)} of an entry` : oid));

/**
 * The CRLs given with --crl (every one of the file: a CRL bundle holds a CA's and its root's), as
 * OpenSSL reads them: an entry with reason removeFromCRL lists nothing (ingest refuses such a full
 * CRL; a server takes it), a partition by reasons or an indirect CRL is of no use to a server
 * without extended CRL support.
 */
export const crlOf = (
  name: string,
  bytes: Uint8Array,
): { crls?: Crl[]; removals?: string[]; problem?: string } => {
  try {
    const lists = readRevocationLists(bytes, name);
    return {
      removals: lists.flatMap(removalsInFullCrl).map((e) => e.serial),
      crls: lists.map((list) => ({
        issuer: list.issuer,
        revoked: new Set(list.entries.filter((e) => e.reason !== 'removeFromCRL').map((e) => e.serial)),
        signedBy: (ca) => verifySignedBy(list, ca),
        thisUpdate: list.thisUpdate,
        ...(list.nextUpdate ? { nextUpdate: list.nextUpdate } : {}),
        unknownCritical: unhandledCritical(list.critical ?? list.unknownCritical),
        ...(list.authorityKeyId ? { authorityKeyId: list.authorityKeyId } : {}),
        // A server compares distribution point URIs byte for byte.
        covers: (cert) => covers(list.scope, cert, 'issued', true),
        ...(list.scope?.onlySomeReasons
          ? { extendedOnly: 'is a partition by reasons (onlySomeReasons)' }
          : list.indirect
            ? { extendedOnly: 'is an indirect CRL' }
            : {}),
      })),
    };
  } catch (error) {
    const message = (error as Error).message.replace(/\.$/, '');
    return { problem: `${name} is not a readable CRL (${message}).` };
  }
};

export const toJson = (r: VerifyResult, authorizer?: AuthorizeDecision) => ({
  verdict: r.verdict,
  reasons: r.reasons.map(({ code, message }) => ({ code, message })),
  warnings: r.warnings.map(({ code, message }) => ({ code, message })),
  path: r.path.map((c) => c.fingerprint),
  ...(authorizer ? { authorizer } : {}),
});

const human = (r: VerifyResult, who: string, authorizer?: AuthorizeDecision): string => {
  // Subjects and the messages naming them come from the certificates given: shown escaped.
  const lines = [
    `${r.verdict === 'accept' ? 'ACCEPTED' : 'REFUSED'}: ${who}${authorizer?.partner ? shown` (partner ${authorizer.partner})` : ''}`,
  ];
  for (const reason of r.reasons) lines.push(shown`  why:  ${reason.message}  [${reason.code}]`);
  if (r.path.length > 0) lines.push(`  path: ${r.path.map((c) => printable(c.subject.text)).join('  <-  ')}`);
  for (const w of r.warnings) lines.push(shown`  warn: ${w.message}  [${w.code}]`);
  return `${lines.join('\n')}\n`;
};

/** `trustroll diagnose`: would the endpoint accept this client, and why not (declared in commands/diagnose.ts). */
export const diagnose = async (flags: DiagnoseFlags, io: Io, exit: (code: number) => void): Promise<void> => {
  // One file each: a folder joined into one input would pick the client by file name.
  await fileOnly('--cert', flags.cert, ' of the client certificate (such as pki/client.pem)');
  if (flags.chain) await fileOnly('--chain', flags.chain, ' of the intermediates the client sends');
  if (flags.key) await fileOnly('--key', flags.key, " of the client's private key (such as pki/client.key)");
  if (flags.crl) await fileOnly('--crl', flags.crl, ' of the CRL');
  const routeProblem = requestRouteProblem(flags.route);
  if (routeProblem) throw new UsageError(routeProblem);
  // The authorizer needs a store: the one the truststore comes from, or one named with --store.
  let store: StoreDeps | undefined;
  let truststore: Certificates;
  if (flags.truststore) {
    truststore = await truststoreOf(flags.truststore, io);
    if (flags.store) store = await openStore(flags.store, { ...flags, inbox: 'inbox' }, io);
  } else {
    const current = await currentTruststore(flags, io);
    store = current.deps;
    truststore = certificatesOf([current], 'truststore');
  }
  const client = certificatesOf(await loadInputs([flags.cert], io), 'cert');
  const chain = flags.chain
    ? certificatesOf(await loadInputs([flags.chain], io), 'chain')
    : { certificates: [] };
  const crl = flags.crl ? crlOf(flags.crl, (await loadInputs([flags.crl], io))[0]!.bytes) : undefined;
  // A file that holds no readable certificate (or CRL) refuses the client: a verdict, not a usage error.
  const unreadable = [
    client.problem && { code: 'cert.unparseable', message: client.problem },
    chain.problem && { code: 'chain.unparseable', message: chain.problem },
    truststore.problem && { code: 'truststore.unparseable', message: truststore.problem },
    crl?.problem && { code: 'crl.unparseable', message: crl.problem },
  ].filter((r): r is Reason => Boolean(r));
  const [leaf, ...alsoSent] = client.certificates;
  if (unreadable.length > 0 || !leaf) {
    const result: VerifyResult = { verdict: 'reject', reasons: unreadable, warnings: [], path: [] };
    io.out(flags.json ? jsonOut(toJson(result)) : human(result, printable(flags.cert)));
    exit(1);
    return;
  }
  let result = verifyClient({
    leaf,
    sent: [...alsoSent, ...chain.certificates],
    trusted: truststore.certificates,
    at: flags.at ?? new Date(),
    purpose: flags.purpose,
    apiGateway: !flags.plainTls,
    crls: crl?.crls ?? [],
    // A plain TLS server given a CRL checks it; API Gateway checks none.
    crlCheck: Boolean(flags.plainTls),
  });
  if (crl?.removals?.length)
    result = {
      ...result,
      warnings: [
        ...result.warnings,
        {
          code: 'crl.remove-from-crl',
          message: `${flags.crl} lists serial ${crl.removals.join(', ')} with reason removeFromCRL, which RFC 5280 allows only in delta CRLs: a server reads such an entry as not revoked, and trustroll ingest refuses the CRL (send it without those entries).`,
        },
      ],
    };
  if (flags.key) {
    const [keyFile] = await loadInputs([flags.key], io);
    const match = keyMatches(leaf, keyFile!.bytes);
    if (match === undefined) throw new UsageError(`${flags.key} is not a readable unencrypted private key`);
    if (!match) {
      result = {
        ...result,
        verdict: 'reject',
        reasons: [
          ...result.reasons,
          {
            code: 'key.mismatch',
            message:
              'The private key does not belong to the client certificate: the client cannot prove it holds the certificate and the handshake fails. Pair the certificate with the key it was issued for.',
          },
        ],
      };
    }
  }
  // The authorizer decides only for a client the handshake accepts (as behind API Gateway).
  const authorizer =
    store && result.verdict === 'accept' ? await authorizerOn(store, leaf, flags, io) : undefined;
  // A bundle given as a file has no revocation index: an ACCEPTED here says nothing about the door.
  if (!store && result.verdict === 'accept')
    io.err(
      'note: judged against the --truststore bundle alone: no revocation index was consulted, so revocations, pins and routes were not checked; add --store <dir|s3://bucket> to ask the authorizer too\n',
    );
  if (authorizer) {
    const { decision, unchecked } = authorizer;
    result = {
      ...result,
      warnings: [...result.warnings, ...unchecked],
      ...(decision.decision === 'deny'
        ? {
            verdict: 'reject' as const,
            reasons: [
              ...result.reasons,
              ...decision.reasons.map((r) => ({
                code: r.code,
                message: `the authorizer denies it: ${r.message}`,
              })),
            ],
          }
        : {}),
    };
  }
  io.out(
    flags.json
      ? jsonOut(toJson(result, authorizer?.decision))
      : human(result, printable(leaf.subject.text), authorizer?.decision),
  );
  exit(result.verdict === 'accept' ? 0 : 1);
};
