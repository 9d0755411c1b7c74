import { realpathSync } from 'node:fs';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  PlainFolderStore,
  RoutingStore,
  VersionedFolderStore,
} from '../shared/adapters/local/folder-store.js';
import { ConsoleNotifier, FanoutNotifier, OutboxNotifier } from '../shared/adapters/local/notifier.js';
import { makeDir } from '../shared/adapters/local/paths.js';
import { REQUESTS_PREFIX } from '../shared/pipeline/lifecycle.js';
import { REPORTS_PREFIX } from '../shared/pipeline/report.js';
import { KEYS } from '../shared/truststore/state.js';
import type { Io } from './io.js';
import { UsageError } from './io.js';

/** Where local mode keeps things. Everything but the inbox lives under the data folder. */
export interface LocalPaths {
  readonly dataDir: string;
  readonly inboxDir: string;
  /** Where removal requests (JSON) are dropped. Default: `requests` beside the inbox. */
  readonly requestsDir?: string;
}

export const layout = (paths: LocalPaths) => ({
  store: join(paths.dataDir, 'store'),
  archive: join(paths.dataDir, 'archive'),
  rejected: join(paths.dataDir, 'rejected'),
  outbox: join(paths.dataDir, 'outbox.jsonl'),
  endpoint: join(paths.dataDir, 'endpoint'),
  demo: join(paths.dataDir, 'demo'),
  /** The report the pipeline publishes with each version (reports/ in the bucket on AWS): one file each, no versions. */
  reports: join(paths.dataDir, 'reports'),
});

/** A path with every link resolved, as far as it exists (the rest appended as given). */
const realPath = (path: string): string => {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(path);
      tail.push(basename(head));
      head = parent;
    }
  }
};

const inside = (path: string, folder: string): boolean => {
  const rel = relative(folder, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
};

/**
 * Refuses an inbox, requests folder and data folder that are the same folder or one inside
 * another (compared as real paths, links resolved): trustroll would judge its own files as
 * uploads, destroy truststore versions as judged uploads, or publish what it keeps.
 */
export const assertSeparate = (paths: LocalPaths): void => {
  const folders = [
    { flag: '--inbox', what: 'inbox folder', path: paths.inboxDir },
    { flag: '--data-dir', what: 'data folder', path: paths.dataDir },
    { flag: 'requests', what: 'requests folder', path: requestsDir(paths) },
  ].map((f) => ({ ...f, real: realPath(f.path) }));
  for (const [n, a] of folders.entries()) {
    for (const b of folders.slice(n + 1)) {
      if (!inside(a.real, b.real) && !inside(b.real, a.real)) continue;
      const relation =
        a.real === b.real
          ? `the ${a.what} ${a.path} and the ${b.what} ${b.path} are the same folder`
          : inside(a.real, b.real)
            ? `the ${a.what} ${a.path} is inside the ${b.what} ${b.path}`
            : `the ${b.what} ${b.path} is inside the ${a.what} ${a.path}`;
      throw new UsageError(
        `${relation} (links resolved: ${a.real}, ${b.real}), so trustroll would take its own files for uploads and move or delete them; ` +
          'use separate folders side by side, e.g. --inbox inbox --data-dir .trustroll.',
      );
    }
  }
};

/** Where removal requests are dropped: beside the inbox as a folder, not as text (the dirname of `.` or `./` is `.` itself). */
export const requestsDir = (paths: LocalPaths): string =>
  paths.requestsDir ??
  (isAbsolute(paths.inboxDir)
    ? join(dirname(paths.inboxDir), 'requests')
    : relative('.', join(dirname(resolve(paths.inboxDir)), 'requests')) || '.');

/**
 * The local object store: the inbox, archive/ and rejected/ are plain folders; state and
 * truststore are versioned. The inbox, requests and data folders must not overlap.
 */
export const localStore = (paths: LocalPaths) => {
  assertSeparate(paths);
  const l = layout(paths);
  return new RoutingStore(
    [
      { prefix: KEYS.inbox, store: new PlainFolderStore(paths.inboxDir, KEYS.inbox) },
      {
        prefix: REQUESTS_PREFIX,
        store: new PlainFolderStore(requestsDir(paths), REQUESTS_PREFIX),
      },
      { prefix: KEYS.archive, store: new PlainFolderStore(l.archive, KEYS.archive) },
      { prefix: KEYS.rejected, store: new PlainFolderStore(l.rejected, KEYS.rejected) },
      { prefix: REPORTS_PREFIX, store: new PlainFolderStore(l.reports, REPORTS_PREFIX) },
    ],
    new VersionedFolderStore(l.store),
  );
};

export const localNotifier = (paths: LocalPaths, io: Io) =>
  new FanoutNotifier([new ConsoleNotifier(io.out), new OutboxNotifier(layout(paths).outbox)]);

/**
 * Maps a command-line path (a file in the inbox folder, or an `inbox/…` key) to its object key.
 * A file that is not there is named as such (a typo), before where it would have to be.
 */
export const uploadKey = async (paths: LocalPaths, arg: string): Promise<string> => {
  const path = arg.startsWith(KEYS.inbox) ? join(paths.inboxDir, arg.slice(KEYS.inbox.length)) : arg;
  const found = await stat(path).then(
    (s) => s.isFile(),
    () => undefined,
  );
  if (found === undefined) throw new UsageError(`cannot read ${arg}: no such file`);
  if (!found) throw new UsageError(`${arg} is not a file: name the uploads in the inbox to process`);
  return inboxKey(paths, arg);
};

/** Maps a command-line path (a file in the inbox folder, or an `inbox/…` key) to its object key. */
export const inboxKey = (paths: LocalPaths, arg: string): string => {
  if (arg.startsWith(KEYS.inbox)) return arg;
  const rel = relative(resolve(paths.inboxDir), resolve(arg));
  if (rel.startsWith('..') || rel === '')
    throw new UsageError(`${arg} is not inside the inbox folder ${paths.inboxDir}`);
  return `${KEYS.inbox}${rel.split(sep).join('/')}`;
};

export interface EndpointMaterial {
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly noTruststoreCa: string;
  readonly caPath: string;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * The local endpoint's server certificate (for localhost and 127.0.0.1) from its own little CA,
 * made once. Clients use `--cacert <data>/endpoint/ca.pem` to verify it.
 */
export const endpointMaterial = async (paths: LocalPaths): Promise<EndpointMaterial> => {
  const dir = layout(paths).endpoint;
  const files = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    none: join(dir, 'no-truststore-ca.pem'),
  };
  if (!(await exists(files.key))) {
    const b = await import('../shared/pki/builder.js');
    const ca = await b.root('CN=trustroll local endpoint CA,O=trustroll', { keySlot: 'endpoint-ca' });
    const server = await b.leaf('CN=localhost,O=trustroll', ca, {
      keySlot: 'endpoint-server',
      eku: ['1.3.6.1.5.5.7.3.1'],
      dns: ['localhost'],
      ips: ['127.0.0.1'],
      notAfter: b.days(825, new Date()),
    });
    const none = await b.root('CN=trustroll placeholder (no truststore yet),O=trustroll', {
      keySlot: 'endpoint-none',
    });
    await makeDir(dir);
    await writeFile(files.ca, ca.pem);
    await writeFile(files.cert, server.pem);
    await writeFile(files.none, none.pem);
    await writeFile(files.key, b.privateKeyPem(server), { mode: 0o600 });
  }
  const [caPem, serverCert, serverKey, noTruststoreCa] = await Promise.all(
    [files.ca, files.cert, files.key, files.none].map((f) => readFile(f, 'utf8')),
  );
  return {
    caPem: caPem!,
    serverCert: serverCert!,
    serverKey: serverKey!,
    noTruststoreCa: noTruststoreCa!,
    caPath: files.ca,
  };
};

/**
 * A demo PKI for trying the pipeline: partner "acme" (root, intermediate, client certificate and
 * key), a client from a CA nobody trusts, and a client certificate packaged as if it were a CA.
 */
/** The demo CRL: the Acme issuing CA revokes the demo client. */
export const DEMO_CRL = 'acme-revokes-client.crl';

export const writeDemoPki = async (paths: LocalPaths): Promise<{ dir: string; created: boolean }> => {
  const dir = layout(paths).demo;
  if (await exists(join(dir, 'acme-client.key'))) return { dir, created: false };
  const b = await import('../shared/pki/builder.js');
  const acme = await b.partnerChain('Acme');
  const strangerRoot = await b.root('CN=Stranger Root CA,O=Stranger');
  const stranger = await b.leaf('CN=client.stranger.example,O=Stranger', strangerRoot);
  await makeDir(dir);
  const put = async (file: string, text: string, secret = false) => {
    await writeFile(join(dir, file), text, secret ? { mode: 0o600 } : {});
    if (secret) await chmod(join(dir, file), 0o600);
  };
  await put('acme-ca-bundle.pem', b.pemOf(acme.root, acme.intermediate));
  await put('acme-client.pem', acme.client.pem);
  await put('acme-client.key', b.privateKeyPem(acme.client), true);
  await put('acme-client-as-ca.pem', acme.client.pem);
  await put('stranger-client.pem', stranger.pem);
  await put('stranger-client.key', b.privateKeyPem(stranger), true);
  // Revocation: a CRL of the issuing CA that lists the demo client, and that CA's key to make
  // more (a demo PKI: a real CA's key never leaves it).
  await put(
    DEMO_CRL,
    b.pemBlock('X509 CRL', await b.crl(acme.intermediate, [acme.client], { crlNumber: 1 })),
  );
  await put('acme-issuing-ca.pem', acme.intermediate.pem);
  await put('acme-issuing-ca.key', b.privateKeyPem(acme.intermediate), true);
  return { dir, created: true };
};
