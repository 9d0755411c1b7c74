import type { Command } from 'commander';
import { type Certificate, pemToDer } from '../../shared/pki/certificate.js';
import { type Crl, parseCrl } from '../../shared/pki/crl.js';
import { keyMatches } from '../../shared/pki/key-match.js';
import { readInput } from '../../shared/pki/read.js';
import { type Purpose, type VerifyResult, verifyClient } from '../../shared/pki/verify.js';
import { printable, shown } from '../../shared/text.js';
import { type Io, jsonOut, loadInputs, parseAt, UsageError } from '../io.js';

interface DiagnoseFlags {
  readonly truststore: string;
  readonly cert: string;
  readonly chain?: string;
  readonly key?: string;
  readonly crl?: string;
  readonly at?: Date;
  readonly purpose: Purpose;
  readonly json?: boolean;
  readonly plainTls?: boolean;
}

const parsePurpose = (value: string): Purpose => {
  if (value !== 'clientAuth' && value !== 'serverAuth' && value !== 'any') {
    throw new UsageError(`--purpose is clientAuth, serverAuth or any; got "${value}"`);
  }
  return value;
};

export const registerDiagnose = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('diagnose')
    .description(
      'Would an API Gateway mTLS domain with this truststore accept this client certificate? Builds the path like the ' +
        'endpoint does, names the cause and the fix of a refusal, and warns about what a stricter validator would refuse.',
    )
    .requiredOption('--truststore <file|dir>', 'the truststore (PEM bundle, or a folder of CA files)')
    .requiredOption(
      '--cert <file>',
      'the client certificate (PEM/DER); further certificates in the file count as sent by the client',
    )
    .option('--chain <file>', 'intermediates the client sends with its certificate')
    .option(
      '--key <file>',
      "the client's private key, to check that it belongs to the certificate (never printed)",
    )
    .option('--crl <file>', 'a CRL to check against (API Gateway checks none: a listing is a warning)')
    .option('--at <iso8601>', 'judge validity at this moment instead of now', parseAt)
    .option(
      '--purpose <purpose>',
      'clientAuth, serverAuth (to check a server chain the same way) or any',
      parsePurpose,
      'clientAuth',
    )
    .option(
      '--plain-tls',
      'judge as a plain OpenSSL TLS server, which also accepts intermediates only the client sends',
    )
    .option('--json', 'print {verdict, reasons, warnings, path} as JSON')
    .addHelpText('after', '\nExit status: 0 accepted, 1 refused, 2 usage error or unreadable input.')
    .action(async (flags: DiagnoseFlags) => {
      const trusted = certificatesOf(await loadInputs([flags.truststore], io), 'truststore');
      const sentFiles = certificatesOf(await loadInputs([flags.cert], io), 'cert');
      const [leaf, ...alsoSent] = sentFiles;
      if (!leaf) throw new UsageError(`${flags.cert} holds no certificate`);
      const sent = [
        ...alsoSent,
        ...(flags.chain ? certificatesOf(await loadInputs([flags.chain], io), 'chain') : []),
      ];
      const crls: Crl[] = [];
      if (flags.crl) {
        const [crlFile] = await loadInputs([flags.crl], io);
        const bytes = crlFile!.bytes;
        const text = Buffer.from(bytes).toString('latin1');
        const der = text.includes('-----BEGIN') ? pemToDer(text) : bytes;
        try {
          crls.push(parseCrl(der));
        } catch (error) {
          throw new UsageError(`${flags.crl} is not a readable CRL (${(error as Error).message})`);
        }
      }
      let result = verifyClient({
        leaf,
        sent,
        trusted,
        at: flags.at ?? new Date(),
        purpose: flags.purpose,
        apiGateway: !flags.plainTls,
        crls,
      });
      if (flags.key) {
        const [keyFile] = await loadInputs([flags.key], io);
        const match = keyMatches(leaf, keyFile!.bytes);
        if (match === undefined)
          throw new UsageError(`${flags.key} is not a readable unencrypted private key`);
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
      io.out(flags.json ? jsonOut(toJson(result)) : human(result, leaf));
      exit(result.verdict === 'accept' ? 0 : 1);
    });
};

const certificatesOf = (inputs: Awaited<ReturnType<typeof loadInputs>>, what: string): Certificate[] => {
  const out: Certificate[] = [];
  for (const input of inputs) {
    const read = readInput(input);
    const key = read.findings.find((f) => f.code === 'input.private-key');
    if (key && what !== 'cert')
      throw new UsageError(`the ${what} ${input.name} holds a private key: pass keys only with --key`);
    const bad = read.findings.find((f) => f.code === 'input.unparseable');
    if (bad && read.certificates.length === 0) throw new UsageError(bad.message);
    out.push(...read.certificates.map((c) => c.cert));
  }
  return out;
};

export const toJson = (r: VerifyResult) => ({
  verdict: r.verdict,
  reasons: r.reasons.map(({ code, message }) => ({ code, message })),
  warnings: r.warnings.map(({ code, message }) => ({ code, message })),
  path: r.path.map((c) => c.fingerprint),
});

const human = (r: VerifyResult, leaf: Certificate): string => {
  // Subjects and the messages naming them come from the certificates given: shown escaped.
  const lines = [`${r.verdict === 'accept' ? 'ACCEPTED' : 'REFUSED'}: ${printable(leaf.subject.text)}`];
  for (const reason of r.reasons) lines.push(shown`  why:  ${reason.message}  [${reason.code}]`);
  lines.push(`  path: ${r.path.map((c) => printable(c.subject.text)).join('  <-  ')}`);
  for (const w of r.warnings) lines.push(shown`  warn: ${w.message}  [${w.code}]`);
  return `${lines.join('\n')}\n`;
};
