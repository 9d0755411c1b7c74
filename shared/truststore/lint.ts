import { DEFAULT_EXPIRING_DAYS } from '../defaults.js';
import { bySeverity, type Finding, isBlocking } from '../finding.js';
import type { Certificate } from '../pki/certificate.js';
import { type InputFile, readInput, type SourcedCertificate } from '../pki/read.js';
import { IssuerIndex } from './issuer-index.js';
import { dedupe, renderTruststore } from './render.js';
import { RULES } from './rules/index.js';
import type { Rule, RuleContext } from './rules/rule.js';

export interface LintOptions {
  /** The moment to judge validity at; default now. */
  readonly at?: Date;
  /** Warn about CAs expiring within this many days; default 30. */
  readonly expiringDays?: number;
  /** The rules to run; default all of them. */
  readonly rules?: readonly Rule[];
}

export interface LintResult {
  /** True when no finding is an error or critical. */
  readonly ok: boolean;
  /** Distinct certificates of the candidate truststore, in input order. */
  readonly certificates: readonly Certificate[];
  /** All findings, most severe first. */
  readonly findings: readonly Finding[];
  /** The truststore those certificates render to. */
  readonly rendered: string;
  /** Where each certificate was found (`bundle.pem, block 2 (line 31)`), by fingerprint, in input order. */
  readonly sources: ReadonlyMap<string, readonly string[]>;
}

export { DEFAULT_EXPIRING_DAYS };

/**
 * Lints certificates as one candidate truststore.
 * 1. dedupe by fingerprint; 2. index subjects and resolve each issuer once;
 * 3. run every certificate rule on every distinct certificate, then the truststore rules.
 * A rule that throws becomes a `rule.failed` finding instead of ending the run.
 */
export const lintCertificates = (
  occurrences: readonly SourcedCertificate[],
  options: LintOptions = {},
  inputFindings: readonly Finding[] = [],
): LintResult => {
  const certificates = dedupe(occurrences.map((o) => o.cert));
  const rendered = renderTruststore(certificates);
  const ctx: RuleContext = {
    at: options.at ?? new Date(),
    expiringDays: options.expiringDays ?? DEFAULT_EXPIRING_DAYS,
    certificates,
    occurrences,
    index: new IssuerIndex(certificates),
    renderedBytes: Buffer.byteLength(rendered),
  };
  const findings: Finding[] = [...inputFindings];
  for (const rule of options.rules ?? RULES) {
    if (rule.scope === 'certificate') {
      for (const cert of certificates) findings.push(...guard(rule, cert, () => rule.check(cert, ctx)));
    } else {
      findings.push(...guard(rule, undefined, () => rule.check(ctx)));
    }
  }
  findings.sort(bySeverity);
  const sources = new Map<string, string[]>();
  for (const o of occurrences)
    sources.set(o.cert.fingerprint, [...(sources.get(o.cert.fingerprint) ?? []), o.source]);
  return { ok: !findings.some(isBlocking), certificates, findings, rendered, sources };
};

/** Reads inputs (any format) and lints everything in them together as one truststore. */
export const lintInputs = (inputs: readonly InputFile[], options: LintOptions = {}): LintResult => {
  const { occurrences, inputFindings } = readAll(inputs);
  return lintCertificates(occurrences, options, inputFindings);
};

/**
 * `lintInputs`, with the signatures verified first on several cores (libuv's thread pool): the
 * same result, sooner on a machine with more than one core. What `trustroll lint` runs.
 */
export const lintInputsParallel = async (
  inputs: readonly InputFile[],
  options: LintOptions = {},
): Promise<LintResult> => {
  const { occurrences, inputFindings } = readAll(inputs);
  const certificates = dedupe(occurrences.map((o) => o.cert));
  await new IssuerIndex(certificates).verifyAhead(certificates);
  return lintCertificates(occurrences, options, inputFindings);
};

const readAll = (inputs: readonly InputFile[]) => {
  const occurrences: SourcedCertificate[] = [];
  const inputFindings: Finding[] = [];
  for (const input of inputs) {
    const read = readInput(input);
    occurrences.push(...read.certificates);
    inputFindings.push(...read.findings);
  }
  return { occurrences, inputFindings };
};

const guard = (
  rule: Rule,
  cert: Certificate | undefined,
  run: () => readonly Finding[],
): readonly Finding[] => {
  try {
    return run();
  } catch (error) {
    return [
      {
        code: 'rule.failed',
        severity: 'error',
        message: `Rule ${rule.id} could not judge this (${(error as Error).message}); treat it as unverified and report the input.`,
        ...(cert ? { cert: { subject: cert.subject.text, fingerprint: cert.fingerprint } } : {}),
      },
    ];
  }
};
