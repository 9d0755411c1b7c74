import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { NotFoundError } from '../../errors.js';
import type { DomainGateway, DomainState } from '../../ports.js';
import { writeAtomic } from './paths.js';

/**
 * The local endpoint's status as a file: `trustroll up` writes it on start and after every roll,
 * so other processes (`trustroll status`) can read what the endpoint serves. Read-only gateway:
 * rolls are the running endpoint's job.
 */
export class EndpointStatusFile implements DomainGateway {
  constructor(readonly path: string) {}

  /** Atomic: `trustroll status` in another process reads the old status or the new, never half. */
  write = async (state: DomainState): Promise<void> => {
    await writeAtomic(
      this.path,
      // The process that serves: a reader can tell a stopped endpoint from a running one.
      `${JSON.stringify({ ...state, updatedAt: new Date().toISOString(), pid: process.pid, pidStart: processStart(process.pid), host: hostname() }, null, 2)}\n`,
    );
  };

  /**
   * What the endpoint last wrote, or `undefined` when no endpoint has run with this data folder
   * (the file does not exist). Throws NotFoundError when the file cannot be read or parsed.
   */
  async read(): Promise<DomainState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new NotFoundError(`cannot read the local endpoint status at ${this.path}`, { cause: error });
    }
    try {
      return JSON.parse(text) as DomainState;
    } catch (error) {
      throw new NotFoundError(`the local endpoint status at ${this.path} is not JSON`, { cause: error });
    }
  }

  /**
   * Whether the endpoint that wrote the status is gone: its process (recorded on this host) no
   * longer exists. `undefined` when that cannot be told (a status written before the pid was
   * recorded, or on another host); then `updatedAt` says when it was last seen.
   */
  static gone(state: DomainState): boolean | undefined {
    const { pid, host, pidStart } = state as { pid?: unknown; host?: unknown; pidStart?: unknown };
    if (typeof pid !== 'number' || host !== hostname()) return undefined;
    // Linux: a zombie (killed, not yet reaped) is gone, and so is a pid now used by another process.
    const proc = procStat(pid);
    if (proc)
      return (
        proc.state === 'Z' || proc.state === 'X' || (typeof pidStart === 'string' && pidStart !== proc.start)
      );
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      // EPERM: the process exists (another user's).
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  async describe(domain: string): Promise<DomainState> {
    const state = await this.read();
    if (!state) throw new NotFoundError(`no local endpoint status at ${this.path}: is trustroll up running?`);
    if (state.name !== domain)
      throw new NotFoundError(`the local endpoint plays ${state.name}, not ${domain}`);
    return state;
  }

  async roll(): Promise<void> {
    // The running `trustroll up` rolls its endpoint itself when it sees a new published version.
  }
}

/** State and start time of a process from /proc (Linux), or undefined where there is no /proc. */
const procStat = (pid: number): { state: string; start: string } | undefined => {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    // No such process: gone. No /proc at all (macOS): undefined, the caller asks the kernel.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' && procAvailable()
      ? { state: 'X', start: '' }
      : undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
};

const procAvailable = (): boolean => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
};

/** What tells this process from a later one with the same pid (its start time), where /proc has it. */
const processStart = (pid: number): string | undefined => procStat(pid)?.start || undefined;
