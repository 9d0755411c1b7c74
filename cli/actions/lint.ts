import { bySeverity, type Finding, type Severity } from '../../shared/finding.js';
import { shown } from '../../shared/text.js';
import { type LintResult, lintInputsParallel } from '../../shared/truststore/lint.js';
import { isCa } from '../../shared/truststore/rules/cert.not-ca.js';
import { type Io, jsonOut, loadInputs } from '../io.js';

export interface LintFlags {
  readonly at?: Date;
  readonly expiringDays: number;
  readonly json?: boolean;
}

/** `trustroll lint`: every input together, as one candidate truststore (declared in commands/lint.ts). */
export const lint = async (
  paths: string[],
  flags: LintFlags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const inputs = await loadInputs(paths, io);
  const result = await lintInputsParallel(inputs, {
    ...(flags.at ? { at: flags.at } : {}),
    expiringDays: flags.expiringDays,
  });
  io.out(flags.json ? jsonOut(toJson(result)) : formatHuman(result, inputs.length));
  exit(result.ok ? 0 : 1);
};

/** The `--json` shape documented in the README. */
export const toJson = (result: LintResult) => ({
  ok: result.ok,
  certificates: result.certificates.map((c) => ({
    fingerprint: c.fingerprint,
    subject: c.subject.text,
    issuer: c.issuer.text,
    notAfter: c.notAfter.toISOString(),
    ca: isCa(c),
    sources: result.sources.get(c.fingerprint) ?? [],
  })),
  findings: result.findings.map((f) => ({
    code: f.code,
    severity: f.severity,
    message: f.message,
    ...(f.cert
      ? { fingerprint: f.cert.fingerprint, sources: result.sources.get(f.cert.fingerprint) ?? [] }
      : {}),
    ...(f.source && !f.cert ? { source: f.source } : {}),
  })),
});

const MARK: Record<Severity, string> = {
  critical: 'CRITICAL',
  error: 'error',
  warning: 'warning',
  info: 'info',
};

/** Findings grouped by certificate, the groups with the worst findings first, then a summary line. */
export const formatHuman = (result: LintResult, inputCount: number): string => {
  const lines: string[] = [];
  const groups = new Map<string, { title: string; findings: Finding[] }>();
  for (const f of result.findings) {
    const key = f.cert?.fingerprint ?? (f.source ? `source:${f.source}` : 'truststore');
    // Subjects, file names and messages come from the inputs: each shown escaped, on its line.
    const title = f.cert
      ? shown`${f.cert.subject}  [sha256 ${f.cert.fingerprint.slice(0, 16)}…]`
      : f.source
        ? shown`input ${f.source}`
        : 'the truststore as a whole';
    const group = groups.get(key) ?? { title, findings: [] };
    group.findings.push(f);
    groups.set(key, group);
  }
  const ordered = [...groups.values()].sort((a, b) => bySeverity(a.findings[0]!, b.findings[0]!));
  for (const group of ordered) {
    lines.push(group.title);
    const cert = group.findings[0]!.cert;
    const sources = cert ? result.sources.get(cert.fingerprint) : undefined;
    if (sources) lines.push(shown`  in ${sources.join('; ')}`);
    for (const f of group.findings)
      lines.push(shown`  ${MARK[f.severity].padEnd(8)} ${f.code.padEnd(30)} ${f.message}`);
    lines.push('');
  }
  const withFindings = new Set(result.findings.flatMap((f) => (f.cert ? [f.cert.fingerprint] : [])));
  const clean = result.certificates.filter((c) => !withFindings.has(c.fingerprint)).length;
  if (clean > 0) lines.push(`${clean} certificate${clean === 1 ? '' : 's'} without findings:`);
  for (const c of result.certificates.filter((x) => !withFindings.has(x.fingerprint)))
    lines.push(
      shown`  ${c.subject.text}  [sha256 ${c.fingerprint.slice(0, 16)}…]  in ${(result.sources.get(c.fingerprint) ?? []).join('; ')}`,
    );
  const count = (s: Severity) => result.findings.filter((f) => f.severity === s).length;
  const parts = [
    count('critical') ? `${count('critical')} critical` : '',
    `${count('error')} error${count('error') === 1 ? '' : 's'}`,
    `${count('warning')} warning${count('warning') === 1 ? '' : 's'}`,
    `${count('info')} info`,
  ].filter(Boolean);
  const n = result.certificates.length;
  lines.push(
    `${result.ok ? 'OK' : 'FAILED'}: ${n} certificate${n === 1 ? '' : 's'} from ${inputCount} input${inputCount === 1 ? '' : 's'}; ` +
      `${parts.join(', ')}${result.ok ? '' : ' (errors must be fixed before this truststore can be used)'}.`,
  );
  return `${lines.join('\n')}\n`;
};
