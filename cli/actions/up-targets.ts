import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { writeAtomic } from '../../shared/adapters/local/paths.js';
import type { Rollout, RolloutConfig, RolloutSettings } from '../../shared/rollout/model.js';
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

export const readRollout = async (paths: LocalPaths): Promise<Rollout | undefined> =>
  readRolloutIn(layout(paths).endpoint);

export const readRolloutIn = async (endpointDir: string): Promise<Rollout | undefined> => {
  try {
    return JSON.parse(await readFile(join(endpointDir, 'rollout.json'), 'utf8')) as Rollout;
  } catch {
    return undefined;
  }
};

export const writeRollout = (paths: LocalPaths, rollout: Rollout): Promise<void> =>
  writeAtomic(rolloutFile(paths), `${JSON.stringify(rollout, null, 2)}\n`);

/**
 * Reads `--targets` for local mode: the file's problems all at once (InputError), then what local
 * mode cannot play (ELB trust stores), and each API Gateway target's port: its own `port`, else
 * consecutive ports from `--port` in the file's order (0: each a free one). Probe certificate
 * paths are relative to the file.
 */
export const loadLocalTargets = async (file: string, basePort: number): Promise<RolloutConfig> => {
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
  const base = dirname(resolve(file));
  const targets = config.targets.map((t, i) => {
    const port = t.port ?? (basePort === 0 ? 0 : basePort + i);
    if (port > 65535)
      throw new UsageError(
        `target ${t.id} would listen on port ${port}, over 65535: give it a "port" in ${file}, or a lower --port`,
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
