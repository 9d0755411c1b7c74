/**
 * API Gateway access-log lines that carry the client certificate of a refused mutual TLS
 * handshake. API Gateway fills `$context.identity.clientCert.*` in access logs only when mutual
 * TLS authentication fails (AWS: "Present only in access logs if mutual TLS authentication
 * fails"), so a line with a certificate is a refusal. The same variables exist for REST and HTTP
 * APIs; `accessLogFormat` is the one format trustroll reads (`TruststorePipeline.accessLogFormat`
 * configures it on a stage, the local endpoint writes it).
 */

/** Our field → the API Gateway variable, for the stage's access-log format (JSON, one line). */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  requestTimeEpoch: '$context.requestTimeEpoch',
  domainName: '$context.domainName',
  status: '$context.status',
  error: '$context.error.message',
  sourceIp: '$context.identity.sourceIp',
  clientCertPem: '$context.identity.clientCert.clientCertPem',
  subjectDN: '$context.identity.clientCert.subjectDN',
  issuerDN: '$context.identity.clientCert.issuerDN',
  serialNumber: '$context.identity.clientCert.serialNumber',
  notBefore: '$context.identity.clientCert.validity.notBefore',
  notAfter: '$context.identity.clientCert.validity.notAfter',
} as const;

/**
 * The access-log format, one JSON object per line (for REST stages and HTTP API stages alike).
 * Every value is quoted, numbers too: a variable without a value is written `-`, which unquoted
 * would break the line's JSON.
 */
export const accessLogFormat = (): string =>
  `{${Object.entries(ACCESS_LOG_FIELDS)
    .map(([k, v]) => `"${k}":"${v}"`)
    .join(',')}}`;

export interface AccessLogEntry {
  readonly requestId?: string;
  /** When API Gateway received the request (from requestTimeEpoch, else requestTime). */
  readonly time?: Date;
  readonly domainName?: string;
  readonly status?: string;
  readonly error?: string;
  readonly sourceIp?: string;
  readonly clientCertPem?: string;
  readonly subjectDN?: string;
  readonly issuerDN?: string;
  readonly serialNumber?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
}

export interface ParsedLog {
  /** Lines of our format that carry a client certificate: the refused handshakes. */
  readonly refusals: readonly AccessLogEntry[];
  /** Lines of our format without a certificate (requests that passed mutual TLS). */
  readonly passed: number;
  /** Non-empty lines that are not access-log lines of our format, with the first few named. */
  readonly other: number;
  readonly otherExamples: readonly string[];
}

/** API Gateway writes `-` for a variable with no value. */
const value = (v: unknown): string | undefined => {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  return s === '' || s === '-' ? undefined : s;
};

/** `02/Dec/2026:03:00:00 +0000` (requestTime) → a Date. */
const clf = (s: string): Date | undefined => {
  const m = /^(\d{2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const month = 'JanFebMarAprMayJunJulAugSepOctNovDec'.indexOf(m[2]!) / 3;
  if (month < 0 || !Number.isInteger(month)) return undefined;
  const offset = (Number(m[7]) * 60 + Math.sign(Number(`${m[7]}1`)) * Number(m[8])) * 60_000;
  return new Date(Date.UTC(+m[3]!, month, +m[1]!, +m[4]!, +m[5]!, +m[6]!) - offset);
};

/** A time a Date can hold (±8.64e15 ms), else undefined: a hostile `1e300` is no time at all. */
const valid = (d: Date | undefined) => (d && Number.isFinite(d.getTime()) ? d : undefined);

const timeOf = (o: Record<string, unknown>): Date | undefined => {
  const epoch = Number(value(o.requestTimeEpoch));
  if (Number.isFinite(epoch) && epoch > 0 && valid(new Date(epoch))) return new Date(epoch);
  const text = value(o.requestTime);
  return text ? (valid(clf(text)) ?? valid(new Date(text))) : undefined;
};

/** An access-log line with a PEM is a few KB; a longer one is not ours (and is not parsed). */
const MAX_LINE = 64 * 1024;

/**
 * One line as JSON. A PEM with its line breaks written raw inside the string (the variable is
 * not escaped by every writer) is read too, by escaping control characters first.
 */
const asJson = (line: string): Record<string, unknown> | undefined => {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  const text = line.slice(start);
  for (const candidate of [
    text,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping raw control characters is the point
    text.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  ]) {
    try {
      const o = JSON.parse(candidate) as unknown;
      if (o && typeof o === 'object' && !Array.isArray(o)) return o as Record<string, unknown>;
    } catch {
      // next candidate
    }
  }
  return undefined;
};

/** Our format: it has the request id and at least one of the certificate fields (even as `-`). */
const ours = (o: Record<string, unknown>) => 'requestId' in o && 'clientCertPem' in o;

/**
 * Reads an access log: our JSON lines as API Gateway writes them, as CloudWatch Logs exports them
 * (`<timestamp> <message>`), or as `aws logs filter-log-events --output text` prints them. A PEM
 * broken over several physical lines (raw line breaks) is joined back.
 */
export const parseAccessLog = (text: string): ParsedLog => {
  const refusals: AccessLogEntry[] = [];
  let passed = 0;
  let other = 0;
  const otherExamples: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.trim() === '') continue;
    let o = line.length <= MAX_LINE ? asJson(line) : undefined;
    // A raw PEM inside the JSON string: the object ends on the line after its END (at most 60
    // lines on). Only a line that opens a PEM is joined, so hostile lines cost one parse each.
    if (!o && line.length <= MAX_LINE && line.includes('{') && line.includes('-----BEGIN ')) {
      let joined = line;
      for (let j = i + 1; j < lines.length && j < i + 60 && joined.length <= MAX_LINE; j++) {
        joined = `${joined}\n${lines[j]}`;
        if (!lines[j]!.includes('"')) continue;
        o = asJson(joined);
        if (o) {
          i = j;
          line = joined;
          break;
        }
      }
    }
    if (!o || !ours(o)) {
      other++;
      if (otherExamples.length < 3) otherExamples.push(lines[i]!.slice(0, 120));
      continue;
    }
    const entry: AccessLogEntry = Object.fromEntries(
      Object.entries({
        requestId: value(o.requestId),
        time: timeOf(o),
        domainName: value(o.domainName),
        status: value(o.status),
        error: value(o.error),
        sourceIp: value(o.sourceIp),
        clientCertPem: value(o.clientCertPem),
        subjectDN: value(o.subjectDN),
        issuerDN: value(o.issuerDN),
        serialNumber: value(o.serialNumber),
        notBefore: value(o.notBefore),
        notAfter: value(o.notAfter),
      }).filter(([, v]) => v !== undefined),
    );
    if (entry.clientCertPem || entry.subjectDN) refusals.push(entry);
    else passed++;
  }
  return { refusals, passed, other, otherExamples };
};

/**
 * One line in the access-log format, as API Gateway would write it (`-` for a value it has not):
 * what the local endpoint writes for a request it refused, so the same tools read both.
 */
export const formatAccessLogLine = (
  values: Partial<Record<keyof typeof ACCESS_LOG_FIELDS, string>>,
): string =>
  JSON.stringify(
    Object.fromEntries(
      Object.keys(ACCESS_LOG_FIELDS).map((k) => [k, values[k as keyof typeof ACCESS_LOG_FIELDS] ?? '-']),
    ),
  );
