import { readlink, realpath, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { exportTruststore } from '../../shared/pipeline/lifecycle.js';
import { readInput } from '../../shared/pki/read.js';
import { shown } from '../../shared/text.js';
import { type Io, UsageError } from '../io.js';
import { openStore, type StoreFlags } from '../stores.js';

export interface ExportFlags extends Pick<StoreFlags, 'dataDir' | 'store' | 'region' | 'profile'> {
  readonly version?: string;
  readonly output?: string;
}

/** Where writing to a path really lands: links followed, a dangling one included (writeFile follows it). */
const realTarget = async (path: string): Promise<string> => {
  let at = path;
  for (let hops = 0; hops < 40; hops++) {
    const link = await readlink(at).catch(() => undefined);
    if (link === undefined) break;
    at = resolve(dirname(at), link);
  }
  return realpath(at).catch(async () =>
    join(await realpath(dirname(at)).catch(() => resolve(dirname(at))), basename(at)),
  );
};

/**
 * Refuses an output file inside the data folder exported from: writing there could overwrite a
 * truststore version (or the state) and damage the store the bytes came from.
 */
const outsideStore = async (output: string, dataDir: string): Promise<void> => {
  const root = await realpath(dataDir);
  const target = await realTarget(output);
  if (target === root || target.startsWith(`${root}${sep}`))
    throw new UsageError(
      `-o ${output} is inside the data folder ${dataDir}: writing there would change the store itself; write the truststore elsewhere`,
    );
};

/** `trustroll export`: a truststore version, byte for byte (declared in commands/export.ts). */
export const exportVersion = async (
  flags: ExportFlags,
  io: Io,
  exit: (code: number) => void,
): Promise<void> => {
  // An empty name is a mistake, not a request for standard output.
  if (flags.output === '')
    throw new UsageError('-o names no file: give a file name, or leave -o out to print');
  const deps = await openStore(flags.store, { ...flags, inbox: 'inbox' }, io);
  if (flags.output !== undefined && deps.kind === 'folder') await outsideStore(flags.output, deps.label);
  const exported = await exportTruststore(deps.store, flags.version);
  if (flags.output !== undefined) {
    try {
      await writeFile(flags.output, exported.body);
    } catch (error) {
      throw new UsageError(`cannot write ${flags.output}: ${(error as Error).message}`);
    }
    const cas = readInput({ name: 'truststore', bytes: exported.body }).certificates.length;
    io.err(
      shown`wrote truststore version ${exported.version} (revision ${String(exported.revision)}, ${String(cas)} CAs) of ${deps.label} to ${flags.output}\n`,
    );
  } else io.out(Buffer.from(exported.body).toString('utf8'));
  exit(0);
};
