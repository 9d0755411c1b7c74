import { watchFile } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { LocalEndpoint } from '../../shared/adapters/local/endpoint.js';
import { consoleLog } from '../../shared/adapters/local/log.js';
import { shown } from '../../shared/text.js';
import { type Io, UsageError } from '../io.js';
import { endpointMaterial } from '../local.js';

export interface ServeFlags {
  readonly truststore: string;
  readonly port: number;
  readonly host: string;
  readonly cert?: string;
  readonly key?: string;
  readonly dataDir: string;
  readonly plainTls?: boolean;
}

/** A file option must name a readable file: a folder or a missing path is a usage error, said plainly. */
const mustBeFile = async (option: string, path: string): Promise<void> => {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`${option} ${path}: no such file`);
  if (info.isDirectory())
    throw new UsageError(
      `${option} wants a file, and ${path} is a folder` +
        (option === '--truststore'
          ? ' (name the PEM inside it, such as ca-bundle.pem, or write the current truststore of a store with trustroll export -o truststore.pem)'
          : ''),
    );
};

/** `--cert` and `--key` must be a certificate and the key it was issued for: checked before listening. */
const mustPair = async (certFile: string, keyFile: string): Promise<void> => {
  const { createSecureContext } = await import('node:tls');
  try {
    createSecureContext({ cert: await readFile(certFile), key: await readFile(keyFile) });
  } catch (error) {
    const reason = (error as Error).message;
    throw new UsageError(
      /mismatch/i.test(reason)
        ? `--key ${keyFile} does not belong to the certificate in --cert ${certFile}: pass the key it was issued for`
        : `--cert ${certFile} and --key ${keyFile} must be a PEM certificate and its PEM private key (${reason})`,
    );
  }
};

/** `trustroll serve`: a local mTLS endpoint over a truststore file (declared in commands/serve.ts). */
export const serve = async (flags: ServeFlags, io: Io, exit: (code: number) => void): Promise<void> => {
  if (Boolean(flags.cert) !== Boolean(flags.key)) throw new UsageError('--cert and --key go together');
  if (flags.port > 65535) throw new UsageError(`--port must be at most 65535; got ${flags.port}`);
  await mustBeFile('--truststore', flags.truststore);
  if (flags.cert) await mustBeFile('--cert', flags.cert);
  if (flags.key) await mustBeFile('--key', flags.key);
  const version = async () => {
    const info = await stat(flags.truststore).catch(() => {
      throw new UsageError(`cannot read ${flags.truststore}`);
    });
    return `${Math.trunc(info.mtimeMs)}-${info.size}`;
  };
  if (flags.cert && flags.key) await mustPair(flags.cert, flags.key);
  const material = await endpointMaterial({ dataDir: flags.dataDir, inboxDir: 'inbox' });
  const log = consoleLog(io.out);
  const endpoint = new LocalEndpoint({
    loadTruststore: async () => new Uint8Array(await readFile(flags.truststore)),
    truststoreUri: `file:${flags.truststore}`,
    domain: 'localhost',
    host: flags.host,
    port: flags.port,
    serverKey: flags.key ? await readFile(flags.key, 'utf8') : material.serverKey,
    serverCert: flags.cert ? await readFile(flags.cert, 'utf8') : material.serverCert,
    noTruststoreCa: material.noTruststoreCa,
    log,
    rules: flags.plainTls ? 'plain-tls' : 'api-gateway',
  });
  let current = await version();
  await endpoint.start(current);
  const state = await endpoint.describe('localhost');
  io.out(
    `serving https://localhost:${endpoint.port}/ with truststore ${flags.truststore}` +
      `${flags.cert ? '' : ` (verify the server with --cacert ${material.caPath})`}\n` +
      state.warnings.map((w) => shown`  truststore warning: ${w}\n`).join(''),
  );
  watchFile(flags.truststore, { interval: 500 }, async () => {
    try {
      const next = await version();
      if (next === current) return;
      current = next;
      await endpoint.roll('localhost', next);
    } catch (error) {
      log.error('reload failed', { error: (error as Error).message });
    }
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await endpoint.stop();
  exit(0);
  process.exit(0);
};
