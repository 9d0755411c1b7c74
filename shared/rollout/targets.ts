import { InputError } from '../errors.js';
import type { Finding } from '../finding.js';
import { notification } from '../pipeline/notifications.js';
import type { Certificate } from '../pki/certificate.js';
import { children, readSingle } from '../pki/der.js';
import { readInput } from '../pki/read.js';
import type { Notification } from '../ports.js';
import { IssuerIndex } from '../truststore/issuer-index.js';
import { MAX_CHAIN } from '../truststore/rules/chain.too-long.js';
import { MAX_TRUSTSTORE_BYTES, sizeFindings } from '../truststore/rules/truststore.too-large.js';
import {
  type ProbeSpec,
  type RolloutConfig,
  type RolloutSettings,
  TARGET_KINDS,
  type Target,
  type TargetKind,
} from './model.js';

/** Settings of a rollout on AWS (API Gateway: one update call per 30 s per account). */
export const DEFAULT_ROLLOUT_SETTINGS: RolloutSettings = {
  pollIntervalMs: 5_000,
  updateTimeoutMs: 300_000,
  minUpdateIntervalMs: 30_000,
  maxAttempts: 6,
};

/** Target ids name folders (local mode) and execution states: letters, digits, `.`, `_`, `-`. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A DNS name of two labels or more; API Gateway also takes a wildcard first label. */
const DOMAIN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ACCOUNT = /^\d{12}$/;
/** arn:<partition>:elasticloadbalancing:<region>:<account>:truststore/<name>/<id> */
const TRUST_STORE_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):truststore\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;
/** STS: 2 to 1224 characters of `[\w+=,.@:/-]`. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

const TARGET_FIELDS = new Set([
  'id',
  'kind',
  'resource',
  'wave',
  'region',
  'account',
  'roleArn',
  'externalId',
  'probe',
  'port',
]);
const PROBE_FIELDS = new Set(['url', 'expectStatus', 'clientCert', 'clientKey']);
const SETTINGS_FIELDS = new Set<keyof RolloutSettings>([
  'pollIntervalMs',
  'updateTimeoutMs',
  'minUpdateIntervalMs',
  'maxAttempts',
]);

/** Problems in one line (error messages are printed as one line): `(1) …; (2) …`. */
const numbered = (items: readonly string[]): string => items.map((p, i) => `(${i + 1}) ${p}`).join('; ');

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/**
 * Reads a targets configuration (`{ "waves": [...], "targets": [...], "settings"?: {...} }`) and
 * checks all of it: every problem is reported at once, each saying what to fix, so a file is
 * corrected in one pass. `settings` missing from the file take `defaults`.
 * Throws InputError (every problem, one per line) when anything is wrong.
 */
export const parseRolloutConfig = (
  json: unknown,
  options: { readonly source?: string; readonly defaults?: RolloutSettings } = {},
): RolloutConfig => {
  const { config, problems } = checkRolloutConfig(json, options.defaults);
  if (!config || problems.length > 0) {
    const where = options.source ? ` ${options.source}` : '';
    throw new InputError(
      `the targets configuration${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${numbered(problems)}`,
    );
  }
  return config;
};

/** Parses JSON text first: a syntax error is reported as such, with the file it is in. */
export const parseRolloutConfigText = (
  text: string,
  options: { readonly source?: string; readonly defaults?: RolloutSettings } = {},
): RolloutConfig => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(
      `the targets configuration${options.source ? ` ${options.source}` : ''} is not JSON: ${(error as Error).message}`,
    );
  }
  return parseRolloutConfig(json, options);
};

/** The problems of a targets configuration (empty when it is usable), and the configuration read. */
export const checkRolloutConfig = (
  json: unknown,
  defaults: RolloutSettings = DEFAULT_ROLLOUT_SETTINGS,
): { readonly config?: RolloutConfig; readonly problems: readonly string[] } => {
  const problems: string[] = [];
  if (!isObject(json))
    return {
      problems: ['the file must hold one JSON object: { "waves": ["canary", "rest"], "targets": [...] }'],
    };
  for (const key of Object.keys(json))
    if (!['waves', 'targets', 'settings', '$schema', 'description'].includes(key))
      problems.push(`unknown field "${key}" at the top: the fields are waves, targets and settings`);

  const waves: string[] = [];
  if (!Array.isArray(json.waves) || json.waves.length === 0) {
    problems.push(
      '"waves" must be a non-empty list of wave names in the order they roll, e.g. ["canary", "rest"]',
    );
  } else {
    for (const [i, w] of json.waves.entries()) {
      if (typeof w !== 'string' || !ID.test(w))
        problems.push(
          `waves[${i}] ${show(w)} is not a wave name: use letters, digits, ".", "_" or "-" (at most 64)`,
        );
      else if (waves.includes(w)) problems.push(`wave "${w}" is listed twice in "waves": list it once`);
      else waves.push(w);
    }
  }

  const targets: Target[] = [];
  if (!Array.isArray(json.targets) || json.targets.length === 0) {
    problems.push('"targets" must be a non-empty list of targets ({ "id", "kind", "resource", "wave" })');
  } else {
    const ids = new Set<string>();
    /** Lower-cased ids: ids are folder names, and a case-insensitive file system merges `EU` and `eu`. */
    const folded = new Map<string, string>();
    /** kind + resource + region + account: the same domain in two regions is two targets. */
    const places = new Map<string, string>();
    for (const [i, raw] of json.targets.entries()) {
      const id = isObject(raw) && typeof raw.id === 'string' ? raw.id : undefined;
      if (id !== undefined && ids.has(id))
        problems.push(`target id "${id}" is used twice (targets[${i}]): give every target its own id`);
      else if (id !== undefined && folded.has(id.toLowerCase()))
        problems.push(
          `target ids "${folded.get(id.toLowerCase())}" and "${id}" differ only in case (targets[${i}]): they would share a status folder on a case-insensitive file system, and read alike in alerts; rename one`,
        );
      if (id !== undefined) {
        ids.add(id);
        folded.set(id.toLowerCase(), id);
      }
      const target = checkTarget(raw, i, waves, problems);
      if (!target) continue;
      // A custom domain name is one API Gateway resource, whichever API (REST or HTTP) reads it.
      const family = target.kind === 'elb-trust-store' ? target.kind : 'apigateway';
      const place = [family, target.resource, target.region ?? '', target.account ?? ''].join('|');
      const other = places.get(place);
      if (other !== undefined)
        problems.push(
          `targets "${other}" and "${target.id}" are the same ${family === 'apigateway' ? 'API Gateway custom domain' : target.kind} ${target.resource}${target.region ? ` in ${target.region}` : ''}: one resource is rolled once (REST and HTTP APIs share a custom domain name); remove one, or fix its "resource" or "region"`,
        );
      else places.set(place, target.id);
      targets.push(target);
    }
    for (const w of waves)
      if (targets.length > 0 && !json.targets.some((t: unknown) => isObject(t) && t.wave === w))
        problems.push(`wave "${w}" has no target: remove it from "waves", or put a target in it`);
  }

  const settings = checkSettings(json.settings, defaults, problems);
  return problems.length > 0 ? { problems } : { config: { waves, targets, settings }, problems };
};

const checkTarget = (raw: unknown, i: number, waves: readonly string[], problems: string[]) => {
  if (!isObject(raw)) {
    problems.push(`targets[${i}] must be an object { "id", "kind", "resource", "wave" }`);
    return undefined;
  }
  const before = problems.length;
  const name = typeof raw.id === 'string' && raw.id ? `target "${raw.id}"` : `targets[${i}]`;
  const say = (problem: string) => problems.push(`${name}: ${problem}`);
  for (const key of Object.keys(raw))
    if (!TARGET_FIELDS.has(key))
      say(`unknown field "${key}": the fields are ${[...TARGET_FIELDS].join(', ')}`);
  if (typeof raw.id !== 'string' || !ID.test(raw.id))
    say(
      `"id" ${show(raw.id)} is not a target id: use letters, digits, ".", "_" or "-" (at most 64), e.g. "eu-canary"`,
    );
  const kind = raw.kind as TargetKind;
  const kindOk = typeof raw.kind === 'string' && (TARGET_KINDS as readonly string[]).includes(raw.kind);
  if (!kindOk) say(`"kind" ${show(raw.kind)} is not one of ${TARGET_KINDS.join(', ')}`);
  if (typeof raw.wave !== 'string' || !waves.includes(raw.wave))
    say(
      `"wave" ${show(raw.wave)} is not a wave of "waves" (${waves.map((w) => `"${w}"`).join(', ') || 'none'}): add it there, or fix the name`,
    );
  if (raw.region !== undefined && (typeof raw.region !== 'string' || !REGION.test(raw.region)))
    say(`"region" ${show(raw.region)} is not an AWS region such as "eu-west-1"`);
  if (raw.account !== undefined && (typeof raw.account !== 'string' || !ACCOUNT.test(raw.account)))
    say(`"account" ${show(raw.account)} is not an AWS account id: 12 digits, as a string`);
  const account = typeof raw.account === 'string' ? raw.account : undefined;
  const region = typeof raw.region === 'string' ? raw.region : undefined;

  if (typeof raw.resource !== 'string' || raw.resource === '') {
    say(`"resource" is missing: the custom domain name (API Gateway) or the trust store ARN (ELB) to roll`);
  } else if (kindOk && kind === 'elb-trust-store') {
    const arn = TRUST_STORE_ARN.exec(raw.resource);
    if (!arn)
      say(
        `"resource" ${show(raw.resource)} is not a trust store ARN: an elb-trust-store target names arn:aws:elasticloadbalancing:<region>:<account>:truststore/<name>/<id>, the name 1 to 32 letters, digits or hyphens and the id 16 lowercase hexadecimal digits (copy TrustStoreArn from aws elbv2 describe-trust-stores)`,
      );
    else {
      if (region && arn[1] !== region)
        say(
          `"region" ${region} differs from the trust store ARN's region ${arn[1]}: drop "region" or fix it`,
        );
      if (account && arn[2] !== account)
        say(
          `"account" ${account} differs from the trust store ARN's account ${arn[2]}: drop "account" or fix it`,
        );
    }
  } else if (kindOk && !DOMAIN.test(raw.resource)) {
    say(
      `"resource" ${show(raw.resource)} is not a domain name: a ${kind} target names its custom domain, e.g. "api.example.com" (lower case, no scheme, no path)`,
    );
  }

  if (raw.roleArn !== undefined) {
    const role = typeof raw.roleArn === 'string' ? ROLE_ARN.exec(raw.roleArn) : null;
    if (!role)
      say(`"roleArn" ${show(raw.roleArn)} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
    else if (!account)
      say(
        `"roleArn" needs "account": the account the role is in (${role[1]}) owns the target, and API Gateway's pace is per account`,
      );
    else if (role[1] !== account)
      say(
        `"roleArn" is in account ${role[1]}, but "account" is ${account}: the role must be in the target's account`,
      );
  }
  if (raw.externalId !== undefined) {
    if (raw.roleArn === undefined)
      say(
        '"externalId" without "roleArn": an external id is only used to assume a role; add "roleArn" or drop it',
      );
    if (typeof raw.externalId !== 'string' || !EXTERNAL_ID.test(raw.externalId))
      say('"externalId" must be 2 to 1224 characters of letters, digits and +=,.@:/-_');
  }
  // 0 ("any free port") would leave a probe no port to name; below 1024 needs privileges.
  if (
    raw.port !== undefined &&
    !(Number.isInteger(raw.port) && (raw.port as number) >= 1024 && (raw.port as number) <= 65535)
  )
    say(
      `"port" ${show(raw.port)} must be a whole number from 1024 to 65535 (local mode: the fixed port of its endpoint; ports below 1024 need privileges; leave "port" out to take consecutive ports from --port, or any free one with --port 0)`,
    );
  const probe = raw.probe === undefined ? undefined : checkProbe(raw.probe, say);
  if (problems.length > before) return undefined;
  return {
    id: raw.id as string,
    kind,
    resource: raw.resource as string,
    wave: raw.wave as string,
    ...(region ? { region } : {}),
    ...(account ? { account } : {}),
    ...(typeof raw.roleArn === 'string' ? { roleArn: raw.roleArn } : {}),
    ...(typeof raw.externalId === 'string' ? { externalId: raw.externalId } : {}),
    ...(probe ? { probe } : {}),
    ...(typeof raw.port === 'number' ? { port: raw.port } : {}),
  } satisfies Target;
};

const checkProbe = (raw: unknown, say: (p: string) => void): ProbeSpec | undefined => {
  if (!isObject(raw)) {
    say('"probe" must be an object { "url", "clientCert", "clientKey", "expectStatus"? }');
    return undefined;
  }
  let ok = true;
  const bad = (p: string) => {
    ok = false;
    say(p);
  };
  for (const key of Object.keys(raw))
    if (!PROBE_FIELDS.has(key))
      bad(`unknown field "probe.${key}": the fields are ${[...PROBE_FIELDS].join(', ')}`);
  let url: URL | undefined;
  try {
    url = typeof raw.url === 'string' ? new URL(raw.url) : undefined;
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:')
    bad(`"probe.url" ${show(raw.url)} must be an https:// URL through the target (mutual TLS)`);
  for (const f of ['clientCert', 'clientKey'] as const)
    if (typeof raw[f] !== 'string' || raw[f] === '')
      bad(
        `"probe.${f}" is missing: the PEM file of the probe's client ${f === 'clientCert' ? 'certificate' : 'key'}`,
      );
  if (
    raw.expectStatus !== undefined &&
    !(
      Number.isInteger(raw.expectStatus) &&
      (raw.expectStatus as number) >= 100 &&
      (raw.expectStatus as number) <= 599
    )
  )
    bad(`"probe.expectStatus" ${show(raw.expectStatus)} must be an HTTP status (100 to 599), e.g. 200`);
  if (!ok) return undefined;
  return {
    url: raw.url as string,
    clientCert: raw.clientCert as string,
    clientKey: raw.clientKey as string,
    ...(raw.expectStatus === undefined ? {} : { expectStatus: raw.expectStatus as number }),
  };
};

const checkSettings = (raw: unknown, defaults: RolloutSettings, problems: string[]): RolloutSettings => {
  if (raw === undefined) return defaults;
  if (!isObject(raw)) {
    problems.push('"settings" must be an object, e.g. { "updateTimeoutMs": 300000 }');
    return defaults;
  }
  const settings: Record<string, number> = { ...defaults };
  for (const [key, value] of Object.entries(raw)) {
    if (!SETTINGS_FIELDS.has(key as keyof RolloutSettings)) {
      problems.push(`unknown field "settings.${key}": the fields are ${[...SETTINGS_FIELDS].join(', ')}`);
      continue;
    }
    const min = key === 'maxAttempts' || key === 'pollIntervalMs' || key === 'updateTimeoutMs' ? 1 : 0;
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > 86_400_000)
      problems.push(`"settings.${key}" ${show(value)} must be a whole number from ${min} to 86400000`);
    else settings[key] = value as number;
  }
  return settings as unknown as RolloutSettings;
};

// ---------------------------------------------------------------------------------------------
// Limits per kind, checked before a rollout starts.

/**
 * The published quotas of an ELB trust store (Elastic Load Balancing, "Quotas for your Application
 * Load Balancers", trust stores). The subject-size quota is read as the sum of the DER-encoded
 * subject names of the CA certificates in the bundle (our assumption: the quota's wording does not
 * say which encoding; DER is what the bundle carries).
 */
export const ELB_LIMITS = {
  /** Size of one CA certificate (PEM, as in the bundle). */
  caCertificateBytes: 16_000,
  caCertificates: 25,
  /** Sum of the CA certificates' subject names (DER bytes). */
  caSubjectBytes: 10_000,
  /** Certificates from the issuing CA to the root, both included. */
  chainDepth: 4,
  revocationEntries: 500_000,
  crlFileBytes: 50_000_000,
  crlFiles: 30,
} as const;

/** A CRL that would go with the version (an ELB trust store's revocation files). */
export interface CrlFile {
  readonly name: string;
  readonly bytes: number;
  /** Revoked entries in it. */
  readonly entries: number;
}

/** What a rollout would take to its targets. */
export interface RolloutCandidate {
  readonly version: string;
  /** The truststore (concatenated PEM). */
  readonly truststore: Uint8Array;
  /** Revocation lists that go with it (only ELB trust stores take them). */
  readonly crls?: readonly CrlFile[];
}

/** One target refusing the candidate: which target, which limit, and the finding that says so. */
export interface LimitRefusal {
  readonly target: string;
  readonly kind: TargetKind;
  readonly finding: Finding;
}

/**
 * The limits each target's kind puts on a truststore version, checked before a rollout starts so
 * that a version some target cannot take is refused as a whole (never rolled to half the targets).
 * API Gateway: the truststore's size and chain length, with the lint's own codes and words
 * (`truststore.too-large`, `chain.too-long`). ELB trust stores: ELB_LIMITS.
 */
export const checkLimits = (config: RolloutConfig, candidate: RolloutCandidate): LimitRefusal[] => {
  const kinds = new Set(config.targets.map((t) => t.kind));
  const certs = readInput({
    name: `truststore version ${candidate.version}`,
    bytes: candidate.truststore,
  }).certificates.map((c) => c.cert);
  const index = new IssuerIndex(certs);
  const byKind = new Map<TargetKind, Finding[]>();
  if (kinds.has('apigateway-rest') || kinds.has('apigateway-http')) {
    const found = [
      ...sizeFindings(candidate.truststore.length).filter((f) => f.severity === 'error'),
      ...chainFindings(certs, index, MAX_CHAIN, 'chain.too-long', "API Gateway's"),
    ];
    byKind.set('apigateway-rest', found);
    byKind.set('apigateway-http', found);
  }
  if (kinds.has('elb-trust-store')) byKind.set('elb-trust-store', elbFindings(certs, index, candidate));
  return config.targets.flatMap((t) =>
    (byKind.get(t.kind) ?? []).map((finding) => ({ target: t.id, kind: t.kind, finding })),
  );
};

/** Throws InputError naming every target that refuses the candidate, and the limit it breaks. */
export const assertWithinLimits = (config: RolloutConfig, candidate: RolloutCandidate): void => {
  const refusals = checkLimits(config, candidate);
  if (refusals.length === 0) return;
  throw new InputError(
    `truststore version ${candidate.version} is not rolled out: ${new Set(refusals.map((r) => r.target)).size} target(s) cannot take it, and no target is rolled: ${numbered(
      refusals.map(
        (r) =>
          `${r.target} (${r.kind}): ${r.finding.code}: ${r.finding.cert ? `${r.finding.cert.subject}: ` : ''}${r.finding.message}`,
      ),
    )}`,
  );
};

/**
 * The alert for a version refused by the targets' limits (`truststore.roll-failed`, once per
 * version): which targets, which limit, and that nothing was rolled.
 */
export const limitsRefusedNotification = (
  release: { readonly revision: number; readonly version: string },
  refusals: readonly LimitRefusal[],
): Notification => {
  const targets = [...new Set(refusals.map((r) => r.target))];
  return notification(
    'truststore.roll-failed',
    'error',
    `limits:${release.version}`,
    `truststore version ${release.version} not rolled out: ${targets.join(', ')} cannot take it`,
    [
      `Truststore revision ${release.revision} (version ${release.version}) breaks a limit of ${targets.length === 1 ? 'a target' : `${targets.length} targets`}, so it was rolled out to no target (every target stays on its version):`,
      ...refusals.map(
        (r) =>
          `- ${r.target} (${r.kind}): ${r.finding.code}: ${r.finding.cert ? `${r.finding.cert.subject}: ` : ''}${r.finding.message}`,
      ),
      'Remove CAs (or revocation files) until the version fits; the next version is checked again.',
    ],
  );
};

const chainFindings = (
  certs: readonly Certificate[],
  index: IssuerIndex,
  max: number,
  code: string,
  whose: string,
): Finding[] =>
  certs.flatMap((cert) => {
    const length = index.pathLength(cert);
    return length !== null && length > max
      ? [
          {
            code,
            severity: 'error' as const,
            message: `The path from this CA to its root holds ${length} certificates; ${whose} limit is ${max} (root and ${max - 1} intermediates).`,
            cert: { subject: cert.subject.text, fingerprint: cert.fingerprint },
          },
        ]
      : [];
  });

const elbFindings = (
  certs: readonly Certificate[],
  index: IssuerIndex,
  candidate: RolloutCandidate,
): Finding[] => {
  const L = ELB_LIMITS;
  const found: Finding[] = [];
  const err = (code: string, message: string, cert?: Certificate): Finding => ({
    code,
    severity: 'error',
    message,
    ...(cert ? { cert: { subject: cert.subject.text, fingerprint: cert.fingerprint } } : {}),
  });
  for (const cert of certs) {
    const pemBytes = pemSize(cert.der.length);
    if (pemBytes > L.caCertificateBytes)
      found.push(
        err(
          'elb.ca-too-large',
          `This CA certificate is ${pemBytes} bytes as PEM; an ELB trust store takes CA certificates of at most ${L.caCertificateBytes / 1000} KB each.`,
          cert,
        ),
      );
  }
  if (certs.length > L.caCertificates)
    found.push(
      err(
        'elb.too-many-cas',
        `The truststore holds ${certs.length} CA certificates; an ELB trust store takes at most ${L.caCertificates}.`,
      ),
    );
  const subjects = certs.reduce((sum, c) => sum + subjectDerBytes(c), 0);
  if (subjects > L.caSubjectBytes)
    found.push(
      err(
        'elb.subjects-too-large',
        `The CA certificates' subject names add up to ${subjects} bytes (DER); an ELB trust store takes at most ${L.caSubjectBytes}.`,
      ),
    );
  found.push(...chainFindings(certs, index, L.chainDepth, 'chain.too-long', "an ELB trust store's"));
  found.push(...elbCrlFindings(candidate.crls ?? []));
  return found;
};

/**
 * ELB's quotas on the revocation files of one trust store (ELB_LIMITS): how many, how large each,
 * how many revoked entries in all. Checked before a rollout with the version's CAs, and before a
 * CRL sync (a CRL accepted since the version) gives the files to a trust store.
 */
export const elbCrlFindings = (crls: readonly CrlFile[]): Finding[] => {
  const L = ELB_LIMITS;
  const found: Finding[] = [];
  const err = (code: string, message: string): Finding => ({ code, severity: 'error', message });
  if (crls.length > L.crlFiles)
    found.push(
      err(
        'elb.too-many-crls',
        `${crls.length} revocation files go with this version; an ELB trust store takes at most ${L.crlFiles}.`,
      ),
    );
  for (const crl of crls)
    if (crl.bytes > L.crlFileBytes)
      found.push(
        err(
          'elb.crl-too-large',
          `The revocation file ${crl.name} is ${crl.bytes} bytes; an ELB trust store takes files of at most ${L.crlFileBytes / 1_000_000} MB.`,
        ),
      );
  const entries = crls.reduce((sum, c) => sum + c.entries, 0);
  if (entries > L.revocationEntries)
    found.push(
      err(
        'elb.too-many-revocations',
        `The revocation files hold ${entries} entries; an ELB trust store takes at most ${L.revocationEntries}.`,
      ),
    );
  return found;
};

/** PEM size of a DER certificate: base64 in 64-character lines, with its BEGIN/END lines. */
const pemSize = (der: number): number => {
  const b64 = Math.ceil(der / 3) * 4;
  return b64 + Math.ceil(b64 / 64) + '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'.length;
};

/** The DER size of a certificate's subject name (its sixth field, after an optional version). */
const subjectDerBytes = (cert: Certificate): number => {
  const tbs = children(readSingle(cert.der))[0];
  const fields = tbs ? children(tbs) : [];
  const subject = fields[fields[0]?.tag === 0xa0 ? 5 : 4];
  return subject?.bytes.length ?? 0;
};

export { MAX_TRUSTSTORE_BYTES };
