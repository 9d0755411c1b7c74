import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { writeAtomic } from '../../shared/adapters/local/paths.js';
import type { RolloutSources, ServedTarget } from '../../shared/report/rollouts.js';
import {
  isRolloutStatus,
  isTargetPhase,
  type Rollout,
  type RolloutConfig,
  type RolloutSettings,
} from '../../shared/rollout/model.js';
import { parseRolloutConfigText } from '../../shared/rollout/targets.js';
import { UsageError } from '../io.js';
import { type LocalPaths, layout } from '../local.js';

/** One machine: no API Gateway pace, quick polls (a local endpoint is AVAILABLE at once). */
export const LOCAL_ROLLOUT_SETTINGS: RolloutSettings = {
  pollIntervalMs: 100,
  updateTimeoutMs: 60_000,
  minUpdateIntervalMs: 0,
  maxAttempts: 6,
};

/** Where each target's local endpoint writes its status (`trustroll status` reads them all). */
export const targetsStatusDir = (paths: LocalPaths): string => join(layout(paths).endpoint, 'targets');
export const targetStatusFile = (paths: LocalPaths, id: string): EndpointStatusFile =>
  new EndpointStatusFile(join(targetsStatusDir(paths), id, 'status.json'));
/** The last rollout's record (`trustroll status` shows it; `up` remembers versions rolled back). */
export const rolloutFile = (paths: LocalPaths): string => join(layout(paths).endpoint, 'rollout.json');

/** The status file of every target endpoint that ever ran with this data folder, by target id. */
export const targetStatusFiles = (paths: LocalPaths) => targetStatusFilesIn(layout(paths).endpoint);

/** The same, from the endpoint folder (`trustroll status` knows the folder of the status file). */
export const targetStatusFilesIn = async (
  endpointDir: string,
): Promise<{ id: string; file: EndpointStatusFile }[]> => {
  const dir = join(endpointDir, 'targets');
  let ids: string[];
  try {
    ids = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
  return ids.map((id) => ({ id, file: new EndpointStatusFile(join(dir, id, 'status.json')) }));
};

/** Forgets the target endpoints of an earlier `up --targets` (this `up` plays one endpoint, or others). */
export const clearTargetStatus = (paths: LocalPaths): Promise<void> =>
  rm(targetsStatusDir(paths), { recursive: true, force: true });

/**
 * Forgets the endpoints of targets no longer in the targets file (their status files): `status`
 * would list them as NOT_RUNNING, and exit 1, for good. Returns the ids forgotten.
 */
export const forgetRemovedTargets = async (paths: LocalPaths, ids: readonly string[]): Promise<string[]> => {
  const keep = new Set(ids);
  const gone = (await targetStatusFiles(paths)).map((t) => t.id).filter((id) => !keep.has(id));
  for (const id of gone) await rm(join(targetsStatusDir(paths), id), { recursive: true, force: true });
  return gone;
};

export const readRollout = async (paths: LocalPaths): Promise<Rollout | undefined> =>
  readRolloutIn(layout(paths).endpoint);

export const readRolloutIn = async (endpointDir: string): Promise<Rollout | undefined> =>
  (await readRolloutFile(endpointDir)).rollout;

/**
 * The last rollout's record, or why the file that is there does not read as one (changed by hand:
 * `up` writes it whole, atomically). Neither when there is no file.
 */
export const readRolloutFile = async (
  endpointDir: string,
): Promise<{ readonly rollout?: Rollout; readonly problem?: string }> => {
  const file = join(endpointDir, 'rollout.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const r = JSON.parse(text) as Partial<Rollout> | null;
    const after = r?.after;
    if (
      r &&
      typeof r === 'object' &&
      typeof r.version === 'string' &&
      isRolloutStatus(r.status) &&
      Number.isInteger(r.revision) &&
      Number.isInteger(r.wave) &&
      Array.isArray(r.waves) &&
      r.waves.every((w) => typeof w === 'string') &&
      Array.isArray(r.targets) &&
      r.targets.every(
        (t) =>
          t &&
          typeof t === 'object' &&
          typeof t.id === 'string' &&
          typeof t.wave === 'string' &&
          isTargetPhase(t.phase) &&
          Array.isArray(t.warningsBefore) &&
          Array.isArray(t.newWarnings),
      ) &&
      (after === undefined ||
        (typeof after === 'object' &&
          after !== null &&
          typeof after.version === 'string' &&
          Number.isInteger(after.revision) &&
          isRolloutStatus(after.status)))
    )
      return { rollout: r as Rollout };
  } catch {}
  return {
    problem: `${file} does not read as a rollout record (changed by hand?): what the last rollout did is not known; the next rollout writes it again`,
  };
};

/**
 * What the report shows of the targets of a data folder (`up --targets`): the last rollout's
 * record (`endpoint/rollout.json`) and what each target endpoint says it serves (its status
 * file). Undefined when neither exists (no targets: no section).
 */
export const localRolloutSources = async (endpointDir: string): Promise<RolloutSources | undefined> => {
  const { rollout, problem } = await readRolloutFile(endpointDir);
  const served: ServedTarget[] = [];
  for (const { id, file } of await targetStatusFilesIn(endpointDir)) {
    const s = await file.read().catch(() => undefined);
    if (!s) continue;
    const gone = EndpointStatusFile.gone(s);
    served.push({
      id,
      name: s.name,
      status: s.status,
      ...(s.truststoreVersion === undefined ? {} : { version: s.truststoreVersion }),
      ...(gone === undefined ? {} : { running: !gone }),
    });
  }
  if (!rollout && !problem && served.length === 0) return undefined;
  return {
    source: join(endpointDir, 'rollout.json'),
    records: rollout ? [rollout] : [],
    served,
    ...(problem ? { unreadable: problem } : {}),
  };
};

export const writeRollout = (paths: LocalPaths, rollout: Rollout): Promise<void> =>
  writeAtomic(rolloutFile(paths), `${JSON.stringify(rollout, null, 2)}\n`);

/** One machine, one endpoint (and port, and TLS server) per target: beyond this, a mistake. */
export const MAX_LOCAL_TARGETS = 100;

/**
 * The names a local probe may use to reach endpoints listening on `host` (`--host`): on the IPv4
 * loopback (or every IPv4 address, 0.0.0.0), `localhost` and `127.0.0.1`, not `[::1]` (nothing
 * listens there: every probe would fail, read as a refused certificate); on the IPv6 loopback,
 * `[::1]`; on every address (`::`), all three; on another address, that address.
 */
const probeHosts = (host: string): readonly string[] => {
  // `localhost` may resolve to 127.0.0.1 only (an /etc/hosts without ::1): it is offered where
  // the endpoints listen on the IPv4 loopback; 0.0.0.0 is IPv4 only.
  if (host === '127.0.0.1' || host === '0.0.0.0') return ['localhost', '127.0.0.1'];
  if (host === '::1' || host === '[::1]') return ['[::1]'];
  if (host === '::' || host === '[::]') return ['localhost', '127.0.0.1', '[::1]'];
  if (host === 'localhost') return ['localhost'];
  return [host.includes(':') && !host.startsWith('[') ? `[${host}]` : host];
};

/**
 * Why a probe URL does not go through its own target's endpoint (undefined when it does). A probe
 * through another target (one still on the previous version) would verify the wrong endpoint,
 * and pass a version that refuses the probe's client.
 */
const probeUrlProblem = (url: string, port: number, host: string): string | undefined => {
  const names = probeHosts(host);
  const own = port === 0 ? undefined : `https://${names[0]}:${port}/`;
  const u = new URL(url);
  const urlPort = u.port === '' ? 443 : Number(u.port);
  if (port === 0)
    return `its probe must go through its own endpoint, whose port is not known when it takes a free one (--port 0): give the target a "port" in the file, and the probe that port`;
  if (!names.includes(u.hostname) || urlPort !== port)
    return `"probe.url" ${url} is not the target's own endpoint: the probe verifies this target, so it must name ${own} (host ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`}: the endpoints listen on ${host} (--host); port ${port})`;
  return undefined;
};

/**
 * Why a probe's client certificate and key cannot make a handshake (undefined when they can),
 * checked when `up` starts: a probe that cannot present its certificate fails every version at
 * the canary, and the failure would read as the target refusing the client.
 */
const probeFilesProblem = async (certFile: string, keyFile: string): Promise<string | undefined> => {
  const read = async (path: string, what: string): Promise<string | { problem: string }> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      return {
        problem: `cannot read the probe's ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): fix "probe.${what === 'client certificate' ? 'clientCert' : 'clientKey'}" (paths are relative to the targets file)`,
      };
    }
  };
  const certPem = await read(certFile, 'client certificate');
  if (typeof certPem !== 'string') return certPem.problem;
  const keyPem = await read(keyFile, 'client key');
  if (typeof keyPem !== 'string') return keyPem.problem;
  if (!certPem.includes('-----BEGIN CERTIFICATE-----'))
    return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certPem)
      ? `"probe.clientCert" ${certFile} holds a private key, not a certificate: name the client certificate's PEM file there, and the key in "probe.clientKey"`
      : `"probe.clientCert" ${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----): name the probe client's certificate`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    return `"probe.clientCert" ${certFile} is not a readable certificate (${(error as Error).message})`;
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    return `"probe.clientKey" ${keyFile} holds no usable private key (${(error as Error).message}): name the unencrypted PEM key of the probe's client certificate`;
  }
  if (!cert.checkPrivateKey(key))
    return `"probe.clientKey" ${keyFile} is not the key of the certificate in "probe.clientCert" ${certFile}: give the key that goes with that certificate`;
  return undefined;
};

/**
 * Reads `--targets` for local mode: the file's problems all at once (InputError), then what local
 * mode cannot play (ELB trust stores), and each API Gateway target's port: its own `port`, else
 * consecutive ports from `--port` in the file's order (0: each a free one). Probe certificate
 * paths are relative to the file, and the files are read: a missing one, a key in the certificate's
 * place, or a key that is not the certificate's is refused; a probe must go through its own
 * target's endpoint.
 */
export const loadLocalTargets = async (
  file: string,
  basePort: number,
  host = '127.0.0.1',
): Promise<RolloutConfig> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --targets ${file}: ${(error as Error).message}`);
  }
  const config = parseRolloutConfigText(text, { source: file, defaults: LOCAL_ROLLOUT_SETTINGS });
  const elb = config.targets.filter((t) => t.kind === 'elb-trust-store').map((t) => t.id);
  if (elb.length > 0)
    throw new UsageError(
      `local mode plays API Gateway domains only, not ELB trust stores (${elb.join(', ')}): leave them out of the local --targets file`,
    );
  if (config.targets.length > MAX_LOCAL_TARGETS)
    throw new UsageError(
      `${file} names ${config.targets.length} targets; local mode plays at most ${MAX_LOCAL_TARGETS} (one HTTPS endpoint and port each, on this machine): try a smaller file locally`,
    );
  const base = dirname(resolve(file));
  const targets = config.targets.map((t, i) => {
    const port = t.port ?? (basePort === 0 ? 0 : basePort + i);
    if (port > 65535)
      throw new UsageError(
        `target ${t.id} would listen on port ${port}, over 65535: give it a "port" in ${file}, or a lower --port`,
      );
    if (port !== 0 && port < 1024)
      throw new UsageError(
        `target ${t.id} would listen on port ${port}, below 1024 (ports that need privileges): give it a "port" from 1024 in ${file}, or a --port from 1024`,
      );
    return {
      ...t,
      port,
      ...(t.probe
        ? {
            probe: {
              ...t.probe,
              clientCert: resolve(base, t.probe.clientCert),
              clientKey: resolve(base, t.probe.clientKey),
            },
          }
        : {}),
    };
  });
  // Every probe's problems at once (its URL, its files), each naming the target.
  const probeProblems: string[] = [];
  for (const t of targets) {
    if (!t.probe) continue;
    const url = probeUrlProblem(t.probe.url, t.port, host);
    if (url) probeProblems.push(`target ${t.id}: ${url}`);
    const files = await probeFilesProblem(t.probe.clientCert, t.probe.clientKey);
    if (files) probeProblems.push(`target ${t.id}: ${files}`);
  }
  if (probeProblems.length > 0)
    throw new UsageError(
      `${file}: ${probeProblems.length === 1 ? probeProblems[0] : probeProblems.map((p, i) => `(${i + 1}) ${p}`).join('; ')}`,
    );
  const taken = new Map<number, string>();
  for (const t of targets) {
    if (t.port === 0) continue;
    const other = taken.get(t.port);
    if (other)
      throw new UsageError(
        `targets ${other} and ${t.id} would both listen on port ${t.port}: give each its own "port"`,
      );
    taken.set(t.port, t.id);
  }
  return { ...config, targets };
};
