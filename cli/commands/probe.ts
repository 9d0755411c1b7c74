import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { type ProbeResult, probe } from '../../shared/adapters/local/probe.js';
import { shown } from '../../shared/text.js';
import { type Io, jsonOut, UsageError } from '../io.js';

interface ProbeFlags {
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly ca?: string;
  readonly json?: boolean;
}

export const registerProbe = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('probe')
    .description(
      'A real handshake against a live endpoint (the local one, or a real custom domain): protocol, cipher, server chain and expiry, client-certificate request, alert, HTTP status — and what it means.',
    )
    .argument('<host:port>', 'the endpoint, e.g. api.example.com:443 or localhost:8443')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client private key (PEM)')
    .option('--servername <name>', 'SNI name (default: the host)')
    .option('--ca <file>', 'CA to verify the server certificate with (default: system roots)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit status: 0 the request got a 2xx/3xx answer, 1 otherwise, 2 usage error.')
    .action(async (target: string, flags: ProbeFlags) => {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target);
      if (!m) throw new UsageError(`"${target}" is not host:port`);
      if (Boolean(flags.cert) !== Boolean(flags.key)) throw new UsageError('--cert and --key go together');
      const read = (file?: string) =>
        file
          ? readFile(file, 'utf8').catch(() => Promise.reject(new UsageError(`cannot read ${file}`)))
          : undefined;
      const [cert, key, ca] = await Promise.all([read(flags.cert), read(flags.key), read(flags.ca)]);
      const result = await probe({
        host: m[1]!.replace(/^\[|\]$/g, ''),
        port: Number(m[2]),
        ...(flags.servername ? { servername: flags.servername } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(ca ? { ca } : {}),
      });
      io.out(flags.json ? jsonOut(result) : human(result));
      exit(result.httpStatus !== undefined && result.httpStatus < 400 ? 0 : 1);
    });
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
