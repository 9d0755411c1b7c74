import { readFile } from 'node:fs/promises';
import { type ProbeResult, probe } from '../../shared/adapters/local/probe.js';
import { keyMatches } from '../../shared/pki/key-match.js';
import { readInput } from '../../shared/pki/read.js';
import { shown } from '../../shared/text.js';
import { type Io, jsonOut, UsageError } from '../io.js';

export interface ProbeFlags {
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly ca?: string;
  readonly json?: boolean;
}

/** `host:port`, `[v6]:port`; the port 1–65535. */
const parseTarget = (target: string): { host: string; port: number } => {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(target);
  if (!m) throw new UsageError(`"${target}" is not host:port (e.g. api.example.com:443, [::1]:8443)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535)
    throw new UsageError(`the port of "${target}" must be 1 to 65535; got ${port}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
};

const read = (file?: string): Promise<Uint8Array> | undefined =>
  file
    ? readFile(file).then(
        (b) => new Uint8Array(b),
        () => Promise.reject(new UsageError(`cannot read ${file}`)),
      )
    : undefined;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

const certificatesIn = (name: string, bytes: Uint8Array) =>
  readInput({ name, bytes }).certificates.map((c) => c.cert);

/** The client certificate parses, the key is readable, and the key is the certificate's. */
const checkClientPair = (certFile: string, cert: Uint8Array, keyFile: string, key: Uint8Array): void => {
  const [leaf] = certificatesIn(certFile, cert);
  if (!leaf) throw new UsageError(`--cert ${certFile} holds no readable certificate`);
  const match = keyMatches(leaf, key);
  if (match === undefined) throw new UsageError(`--key ${keyFile} is not a readable unencrypted private key`);
  if (!match)
    throw new UsageError(
      `--key ${keyFile} does not belong to the certificate in --cert ${certFile} (${leaf.subject.text}): pass the key it was issued for`,
    );
};

const human = (r: ProbeResult): string => {
  // What the server sent (its chain, the CA names it announces, its alert) is data: shown escaped.
  const lines = [shown`probe ${r.target}`];
  lines.push(
    shown`  handshake:        ${r.handshake}` + (r.protocol ? shown` (${r.protocol}, ${r.cipher})` : ''),
  );
  for (const [i, c] of r.serverChain.entries()) {
    lines.push(
      shown`  server cert ${i}:    ${c.subject}  (expires ${c.notAfter.slice(0, 10)}, ${c.daysLeft} days)`,
    );
  }
  if (r.serverTrusted !== undefined)
    lines.push(shown`  server trusted:   ${r.serverTrusted ? 'yes' : `no (${r.serverTrustError})`}`);
  lines.push(
    shown`  client cert:      ${r.clientCertSent ? 'sent' : 'not sent'}; requested by the server: ${r.clientCertRequested}`,
  );
  for (const ca of r.acceptableCas) lines.push(shown`  acceptable CA:    ${ca}`);
  if (r.alert) lines.push(shown`  alert received:   ${r.alert}`);
  if (r.httpStatus !== undefined) lines.push(shown`  HTTP status:      ${r.httpStatus}`);
  lines.push(shown`  meaning:          ${r.meaning}`);
  return `${lines.join('\n')}\n`;
};

/** `trustroll probe`: one mutual-TLS request, and what the endpoint answered (declared in commands/probe.ts). */
export const probeEndpoint = async (
  target: string,
  flags: ProbeFlags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  const { host, port } = parseTarget(target);
  if (Boolean(flags.cert) !== Boolean(flags.key)) throw new UsageError('--cert and --key go together');
  const [cert, key, ca] = await Promise.all([read(flags.cert), read(flags.key), read(flags.ca)]);
  // Checked before any connection: a bad file is the caller's to fix, not the endpoint's answer.
  if (cert && key) checkClientPair(flags.cert!, cert, flags.key!, key);
  if (ca && certificatesIn(flags.ca!, ca).length === 0)
    throw new UsageError(`--ca ${flags.ca} holds no certificate`);
  const result = await probe({
    host,
    port,
    ...(flags.servername ? { servername: flags.servername } : {}),
    ...(cert ? { cert: text(cert) } : {}),
    ...(key ? { key: text(key) } : {}),
    ...(ca ? { ca: text(ca) } : {}),
  });
  io.out(flags.json ? jsonOut(result) : human(result));
  exit(result.httpStatus !== undefined && result.httpStatus < 400 ? 0 : 1);
};
