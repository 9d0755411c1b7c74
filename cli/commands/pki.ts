import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { exitHelp, OUTPUT_STATUS } from '../exit-status.js';
import { type Io, parseCount, UsageError } from '../io.js';

/** A validity in days: 0 would write certificates that are never valid, so it is refused. */
const parseDays =
  (name: string) =>
  (value: string): number => {
    const days = parseCount(name)(value);
    if (days < 1 || days > 36_500)
      throw new UsageError(`${name} wants a whole number of days from 1 to 36500; got "${value}"`);
    return days;
  };

const KEY_TYPES = ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384'] as const;
type KeyType = (typeof KEY_TYPES)[number];

interface PkiFlags {
  readonly keyType: KeyType;
  readonly days: number;
  readonly caDays: number;
  readonly name: string;
  readonly force?: boolean;
}

/** The files of a test PKI, what each shows, and the command that shows it. */
export const PKI_FILES: readonly { file: string; what: string }[] = [
  {
    file: 'ca-bundle.pem',
    what: 'root + intermediate: the complete truststore to upload (inbox/<partner>/) or serve',
  },
  { file: 'root-ca.pem', what: 'the partner root CA' },
  { file: 'intermediate-ca.pem', what: 'the issuing CA (signed by the root)' },
  {
    file: 'client.pem / client.key',
    what: 'a good client certificate and key, issued by the intermediate: accepted',
  },
  {
    file: 'client-chain.pem',
    what: 'the client certificate followed by the intermediate (what a client may send)',
  },
  {
    file: 'expired-client.pem / .key',
    what: 'a client certificate that has expired: refused ("certificate expired")',
  },
  {
    file: 'unknown-ca-client.pem / .key',
    what: 'a client from a CA the truststore does not hold: refused ("unknown ca")',
  },
  {
    file: 'root-only-truststore.pem',
    what: 'the classic mistake: the root without the intermediate; API Gateway refuses the good client',
  },
  {
    file: 'leaf-as-ca-bundle.pem',
    what: 'the client certificate packaged as if it were a CA bundle: lint says cert.not-ca',
  },
  {
    file: 'sha1-ca.pem',
    what: 'a CA signed with SHA-1: lint says signature.weak-hash ("insecure Signature Algorithm")',
  },
  { file: 'rsa1024-ca.pem', what: 'a CA with an RSA-1024 key: lint says key.too-weak' },
  {
    file: 'server.pem / server.key / server-ca.pem',
    what: 'a localhost server certificate for `trustroll serve`, and the CA to verify it',
  },
];

export const registerPki = (program: Command, io: Io, exit: (code: number) => void): void => {
  const pki = program
    .command('pki')
    .description('Test PKIs for mTLS: partner CAs, client certificates and the broken variants teams hit.');
  pki
    .command('init')
    .description('Write a ready test PKI into a folder, with a README saying what each file demonstrates.')
    .argument('[dir]', 'target folder', 'test-pki')
    .option(
      '--key-type <type>',
      `key type for CAs and clients: ${KEY_TYPES.join(', ')}`,
      parseKeyType,
      'p256',
    )
    .option('--days <n>', 'validity of the client certificates in days (1 or more)', parseDays('--days'), 365)
    .option('--ca-days <n>', 'validity of the CAs in days (1 or more)', parseDays('--ca-days'), 3 * 365)
    .option('--name <partner>', 'partner name used in the subjects', 'Acme')
    .option('--force', 'write into a folder that already has a PKI')
    .addHelpText(
      'after',
      exitHelp('pki init', {
        0: 'the test PKI was written',
        2: 'usage error (the folder already holds a PKI: --force; a file where the folder should be; impossible validity)',
        ...OUTPUT_STATUS,
      }),
    )
    .action(async (dir: string, flags: PkiFlags) => {
      await writePki(dir, flags);
      io.out(
        `Test PKI written to ${dir}/ (see ${join(dir, 'README.md')}):\n${PKI_FILES.map((f) => `  ${f.file.padEnd(40)} ${f.what}`).join('\n')}\n`,
      );
      exit(0);
    });
};

const parseKeyType = (value: string): KeyType => {
  if (!(KEY_TYPES as readonly string[]).includes(value))
    throw new UsageError(`--key-type is one of ${KEY_TYPES.join(', ')}; got "${value}"`);
  return value as KeyType;
};

export const writePki = async (dir: string, flags: PkiFlags): Promise<void> => {
  const { stat } = await import('node:fs/promises');
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw folderRefused(dir, error);
  });
  if (info && !info.isDirectory())
    throw new UsageError(
      `${dir} is a file, not a folder: name a new folder (or an existing one) for the test PKI`,
    );
  if (flags.caDays < flags.days)
    throw new UsageError(
      `--days ${flags.days} outlives the CAs (--ca-days ${flags.caDays}): a client certificate cannot be valid after its CA; lower --days or raise --ca-days`,
    );
  if (
    !flags.force &&
    (await stat(join(dir, 'client.key')).then(
      () => true,
      () => false,
    ))
  ) {
    throw new UsageError(`${dir} already holds a test PKI; use --force to overwrite it`);
  }
  if (!/^[\p{L}\p{N} ._-]{1,40}$/u.test(flags.name))
    throw new UsageError(`--name "${flags.name}" must be 1-40 letters, digits, spaces or ._-`);
  const b = await import('../../shared/pki/builder.js');
  const now = new Date();
  const key = flags.keyType;
  const n = flags.name;
  const ca = { key, notAfter: b.days(flags.caDays, now), keySlot: undefined };
  const root = await b.root(`CN=${n} Root CA,O=${n}`, { key, notAfter: ca.notAfter });
  const int = await b.intermediate(`CN=${n} Issuing CA,O=${n}`, root, { key, notAfter: ca.notAfter });
  const client = await b.leaf(`CN=client.${n.toLowerCase().replace(/\s+/g, '-')}.example,O=${n}`, int, {
    key,
    notAfter: b.days(flags.days, now),
  });
  const expired = await b.leaf(`CN=expired-client,O=${n}`, int, {
    key,
    notBefore: b.days(-60, now),
    notAfter: b.days(-1, now),
  });
  const unknownRoot = await b.root('CN=Unknown CA,O=Somebody Else', { key });
  const unknown = await b.leaf('CN=unknown-ca-client,O=Somebody Else', unknownRoot, { key });
  const sha1 = await b.root(`CN=${n} Legacy SHA-1 CA,O=${n}`, { key: 'rsa2048', hash: 'SHA-1' });
  const weak = await b.root(`CN=${n} Legacy RSA-1024 CA,O=${n}`, { key: 'rsa1024' });
  const serverCa = await b.root('CN=Test Server CA,O=trustroll test', { key });
  const server = await b.leaf('CN=localhost', serverCa, {
    key,
    eku: ['1.3.6.1.5.5.7.3.1'],
    dns: ['localhost'],
    ips: ['127.0.0.1'],
  });

  // Imported here, as the builder is: declaring the command (for --help) loads neither.
  const { makeDir } = await import('../../shared/adapters/local/paths.js');
  await makeDir(dir).catch((error: unknown) => {
    throw error instanceof InputError ? new UsageError(error.message) : error;
  });
  // Every file ends with a newline, so `cat a.pem b.pem > bundle.pem` gives valid PEM.
  const lf = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  const put = (file: string, text: string) => writeFile(join(dir, file), lf(text));
  const secret = async (file: string, text: string) => {
    await writeFile(join(dir, file), lf(text), { mode: 0o600 });
    await chmod(join(dir, file), 0o600);
  };
  await put('root-ca.pem', root.pem);
  await put('intermediate-ca.pem', int.pem);
  await put('ca-bundle.pem', b.pemOf(root, int));
  await put('client.pem', client.pem);
  await secret('client.key', b.privateKeyPem(client));
  await put('client-chain.pem', b.pemOf(client, int));
  await put('expired-client.pem', expired.pem);
  await secret('expired-client.key', b.privateKeyPem(expired));
  await put('unknown-ca-client.pem', unknown.pem);
  await secret('unknown-ca-client.key', b.privateKeyPem(unknown));
  await put('root-only-truststore.pem', root.pem);
  await put('leaf-as-ca-bundle.pem', client.pem);
  await put('sha1-ca.pem', sha1.pem);
  await put('rsa1024-ca.pem', weak.pem);
  await put('server-ca.pem', serverCa.pem);
  await put('server.pem', server.pem);
  await secret('server.key', b.privateKeyPem(server));
  await put('README.md', readme(dir));
};

/** Why the PKI folder cannot be used, as a sentence saying what to do. */
const folderRefused = (dir: string, error: NodeJS.ErrnoException): Error => {
  if (error.code === 'ENOTDIR' || error.code === 'EEXIST')
    return new UsageError(
      `cannot create ${dir}: a part of that path is a file, not a folder; name another folder`,
    );
  if (error.code === 'EACCES' || error.code === 'EPERM' || error.code === 'EROFS')
    return new UsageError(`cannot write into ${dir}: permission denied; name a folder you can write to`);
  return error;
};

const readme = (dir: string): string => `# Test PKI (trustroll pki init)

Generated for testing mutual TLS. Private keys (*.key) are readable by you only; never use them
outside tests.

| file | what it demonstrates |
|---|---|
${PKI_FILES.map((f) => `| \`${f.file}\` | ${f.what} |`).join('\n')}

## Try it

Serve a local mTLS endpoint that trusts the bundle (like an API Gateway custom domain):

    trustroll serve --truststore ${dir}/ca-bundle.pem --cert ${dir}/server.pem --key ${dir}/server.key --port 8443

Then, in another terminal:

    curl --cacert ${dir}/server-ca.pem --cert ${dir}/client.pem --key ${dir}/client.key https://localhost:8443/          # 200
    curl --cacert ${dir}/server-ca.pem --cert ${dir}/expired-client.pem --key ${dir}/expired-client.key https://localhost:8443/   # refused
    curl --cacert ${dir}/server-ca.pem --cert ${dir}/unknown-ca-client.pem --key ${dir}/unknown-ca-client.key https://localhost:8443/   # refused
    trustroll probe localhost:8443 --ca ${dir}/server-ca.pem --cert ${dir}/expired-client.pem --key ${dir}/expired-client.key

Explain refusals offline:

    trustroll diagnose --truststore ${dir}/ca-bundle.pem --cert ${dir}/client.pem --key ${dir}/client.key
    trustroll diagnose --truststore ${dir}/ca-bundle.pem --cert ${dir}/expired-client.pem
    trustroll diagnose --truststore ${dir}/ca-bundle.pem --cert ${dir}/unknown-ca-client.pem
    trustroll diagnose --truststore ${dir}/root-only-truststore.pem --cert ${dir}/client-chain.pem
    trustroll lint ${dir}/leaf-as-ca-bundle.pem ${dir}/sha1-ca.pem ${dir}/rsa1024-ca.pem
`;
