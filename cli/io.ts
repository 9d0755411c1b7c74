import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputFile } from '../shared/pki/read.js';
import { safeJson, terminalSafe } from '../shared/text.js';

/** Where a command writes and reads, so tests can run commands in-process. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Standard input, read to its end; more than `limit` bytes is a `UsageError`. */
  readonly stdin: (limit?: number) => Promise<Uint8Array>;
  /** One line of an answer (a prompt): returns at the end of the line, not at the end of input. */
  readonly readLine?: () => Promise<string>;
}

/**
 * The most trustroll reads from one file or from standard input (32 MiB): far above any CA
 * bundle (the system's is about 0.2 MB, an upload at most 2 MB), far below what would exhaust
 * memory. `trustroll lint /dev/zero` is refused instead of read for ever.
 */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

const tooLarge = (what: string, limit: number) =>
  new UsageError(
    `${what} is larger than the ${limit} bytes trustroll reads from one input (${Math.round(limit / 1024 / 1024)} MiB); a CA bundle is far smaller`,
  );

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: async (limit = MAX_INPUT_BYTES) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        process.stdin.destroy();
        throw tooLarge('standard input', limit);
      }
      chunks.push(chunk as Buffer);
    }
    return bytesOf(chunks);
  },
  readLine: async () => {
    const { createInterface } = await import('node:readline');
    const lines = createInterface({ input: process.stdin, terminal: false });
    try {
      for await (const line of lines) return line;
      return '';
    } finally {
      lines.close();
    }
  },
};

/**
 * The chunks read, joined, as a plain Uint8Array over the joined buffer: not copied once more (a
 * 10,000-CA bundle is 11 MB).
 */
const bytesOf = (chunks: readonly Buffer[]): Uint8Array => {
  const joined = Buffer.concat(chunks);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
};

/** The first line of an answer to a prompt, trimmed and lowercased (`yes | trustroll …` works). */
export const answer = async (io: Io): Promise<string> =>
  (io.readLine
    ? await io.readLine()
    : Buffer.from(await io.stdin())
        .toString('utf8')
        .split('\n')[0]!
  )
    .trim()
    .toLowerCase();

/**
 * The streams every command writes through: whatever a command prints passes `terminalSafe`, so
 * no control character, escape sequence or direction override from an upload, a certificate or a
 * request reaches the terminal raw, even where a value was not shown through `shown`/`printable`.
 */
export const guarded = (io: Io): Io => ({
  ...io,
  out: (text) => io.out(terminalSafe(text)),
  err: (text) => io.err(terminalSafe(text)),
});

/** A command's `--json` output: indented, direction overrides and C1 controls escaped, one trailing newline. */
export const jsonOut = (value: unknown): string => `${safeJson(value, 2)}\n`;

/** A usage problem: the command prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Loads the inputs named on the command line: files, folders (every file below, sorted, hidden
 * ones skipped) and `-` for standard input. A path that cannot be read is a `UsageError`.
 */
export const loadInputs = async (paths: readonly string[], io: Io): Promise<InputFile[]> => {
  const inputs: InputFile[] = [];
  for (const path of paths) {
    if (path === '-') {
      if (inputs.some((i) => i.name === '-'))
        throw new UsageError('standard input (-) can be named once: it is read to its end the first time');
      const bytes = await io.stdin(MAX_INPUT_BYTES);
      if (bytes.length > MAX_INPUT_BYTES) throw tooLarge('standard input', MAX_INPUT_BYTES);
      inputs.push({ name: '-', bytes });
      continue;
    }
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (error) {
      throw new UsageError(`cannot read ${path}: ${describe(error)}`);
    }
    if (info.isDirectory()) {
      const files = await listFiles(path);
      if (files.length === 0) throw new UsageError(`${path} is a folder with no files in it`);
      for (const file of files) inputs.push({ name: file, bytes: await readBytes(file) });
    } else {
      inputs.push({ name: path, bytes: await readBytes(path) });
    }
  }
  return inputs;
};

const listFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
};

const readBytes = (path: string): Promise<Uint8Array> => readBounded(path, MAX_INPUT_BYTES);

/**
 * Reads a file named on the command line, never more than `limit` bytes: a device or a file
 * that grows (`/dev/zero`, a pipe) is refused when it passes the limit, not read to exhaustion.
 */
export const readBounded = async (path: string, limit = MAX_INPUT_BYTES): Promise<Uint8Array> => {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${describe(error)}`);
  }
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1024 * 1024, limit + 1 - size));
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, chunk.length, null));
      } catch (error) {
        throw new UsageError(`cannot read ${path}: ${describe(error)}`);
      }
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > limit) throw tooLarge(path, limit);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return bytesOf(chunks);
  } finally {
    await handle.close();
  }
};

const describe = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or folder';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
};

/**
 * An option or argument that takes one file (`--cert`, `scan <truststore>`): a folder is a usage
 * error said plainly, not joined into one input whose first file would be picked by its name.
 * A path that does not exist is left to the read, which names it.
 */
export const fileOnly = async (what: string, path: string, instead = ''): Promise<void> => {
  if (path === '-') return;
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory())
    throw new UsageError(`${what} wants a file, and ${path} is a folder: name the file${instead}`);
};

/**
 * Parses `--at` (ISO 8601). A date or time that is not on the calendar (2027-02-30, 24:30) is
 * refused: `Date` would quietly move it to another day.
 */
export const parseAt = (value: string): Date => {
  const date = new Date(value);
  const wants = `such as 2027-01-31 or 2027-01-31T12:00:00Z; got "${value}"`;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(value);
  if (!m || Number.isNaN(date.getTime()))
    throw new UsageError(`--at wants an ISO 8601 date or time, ${wants}`);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth)
    throw new UsageError(`--at ${value} is not a date on the calendar: give a real day, ${wants}`);
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59))
    throw new UsageError(
      `--at ${value} is not a time of day: give hours 00-23 and minutes and seconds 00-59, ${wants}`,
    );
  return date;
};

/** Parses a whole, non-negative number option. */
export const parseCount =
  (name: string, { min = 0, max = Number.MAX_SAFE_INTEGER, why = '' } = {}) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
      throw new UsageError(`${name} wants a whole number ${range}${why ? ` (${why})` : ''}; got "${value}"`);
    }
    return n;
  };

/**
 * A folder option (`--inbox`, `--data-dir`) that names something other than a folder is a usage
 * error said plainly; a path that does not exist yet is fine (the command creates it).
 */
export const folderOrAbsent = async (option: string, path: string): Promise<void> => {
  const info = await stat(path).catch(() => undefined);
  if (info && !info.isDirectory())
    throw new UsageError(
      `${option} ${path} is a file, not a folder: name a folder (it is created if it does not exist)`,
    );
  // Absent: it must be creatable (no file or link to nothing on its path), checked before any work.
  // Imported here: io.ts is loaded by every command's declaration, and paths.ts loads node:crypto.
  if (!info) await (await import('../shared/adapters/local/paths.js')).checkFolder(path);
};
