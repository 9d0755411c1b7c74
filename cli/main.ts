import { Command, CommanderError } from 'commander';
import { DamagedStoreError, InputError, UpstreamError } from '../shared/errors.js';
import { printable, terminalSafe } from '../shared/text.js';
import { registerDiagnose } from './commands/diagnose.js';
import { registerExport } from './commands/export.js';
import { registerIngest } from './commands/ingest.js';
import { registerLifecycle, registerPromote, registerRepair } from './commands/lifecycle.js';
import { registerLint } from './commands/lint.js';
import { registerPki } from './commands/pki.js';
import { registerProbe } from './commands/probe.js';
import { registerRefusals } from './commands/refusals.js';
import { registerReport } from './commands/report.js';
import { registerRevocation } from './commands/revocation.js';
import { registerScan } from './commands/scan.js';
import { registerServe } from './commands/serve.js';
import { registerUp } from './commands/up.js';
import { guarded, type Io, jsonOut, processIo, UsageError } from './io.js';

/** Builds the trustroll command; `exit` receives the exit status of the command that ran. */
export const buildProgram = (io: Io, exit: (code: number) => void): Command => {
  const program = new Command('trustroll')
    .description('Keeps the client-certificate truststore of API Gateway custom domains (mTLS) correct.')
    .version(VERSION)
    // Program options (--version, --help) are read only before the sub-command: after it, every
    // option is the sub-command's own, so `promote --version 2` names a version, never prints ours.
    .enablePositionalOptions()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    // Usage errors exit 2 (commander's default is 1, which lint reserves for "findings").
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit status: 0 ok, 1 findings or refused (each command says which), 2 usage error or unreadable input,\n' +
        '4 the store is damaged (trustroll status explains it, trustroll repair mends it),\n' +
        '5 S3, the file system or API Gateway failed for now (nothing was lost: run the command again),\n' +
        '3 a bug in trustroll (the message says where to report it). Each command lists its own: trustroll <command> --help.',
    );
  registerLint(program, io, exit);
  registerUp(program, io, exit);
  registerIngest(program, io, exit);
  registerScan(program, io, exit);
  registerDiagnose(program, io, exit);
  registerProbe(program, io, exit);
  registerPki(program, io, exit);
  registerServe(program, io, exit);
  registerLifecycle(program, io, exit);
  registerPromote(program, io, exit);
  registerExport(program, io, exit);
  registerRepair(program, io, exit);
  registerReport(program, io, exit);
  registerRevocation(program, io, exit);
  registerRefusals(program, io, exit);
  plainDefaults(program);
  return program;
};

/**
 * Defaults in `--help` as a person would type them (`60,30,14,7,3,1`, `.trustroll`), not as JSON
 * (`[60,30,…]`, `".trustroll"`), for every option and argument of every command.
 */
const plainDefaults = (cmd: Command): void => {
  const plain = (value: unknown) => (Array.isArray(value) ? value.join(',') : String(value));
  for (const option of cmd.options)
    if (option.defaultValue !== undefined && option.defaultValueDescription === undefined)
      option.defaultValueDescription = plain(option.defaultValue);
  for (const argument of cmd.registeredArguments)
    if (argument.defaultValue !== undefined && argument.defaultValueDescription === undefined)
      argument.defaultValueDescription = plain(argument.defaultValue);
  for (const sub of cmd.commands) plainDefaults(sub);
};

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.1.0';

/**
 * Runs the CLI in-process and resolves to the exit status (0 ok, 1 findings, 2 usage, 4 the store
 * is damaged: the message says what and how to repair it, 5 a dependency failed: run it again).
 */
export const run = async (argv: readonly string[], rawIo: Io = processIo): Promise<number> => {
  const io = guarded(rawIo);
  let status = 0;
  const program = buildProgram(io, (code) => {
    status = code;
  });
  // A script that asked for JSON reads standard output as JSON, a failure included.
  const json = wantsJson(argv);
  const failed = (code: number, message: string): number => {
    io.err(`trustroll: ${message}\n`);
    if (json) io.out(jsonOut({ error: message, status: code }));
    return code;
  };
  // Every relative path (the default `.trustroll`, `inbox`, `requests`) is resolved against the
  // current folder: when that folder was deleted, say so, rather than fail deep inside a command.
  const gone = currentFolderGone();
  if (gone)
    return failed(
      2,
      `the current folder no longer exists (it was deleted or moved away: ${gone}): cd to an existing folder (the one holding your .trustroll and inbox) and run the command again.`,
    );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      // Commander has printed its message on standard error already.
      if (json) io.out(jsonOut({ error: printable(error.message.replace(/^error: /, '')), status: 2 }));
      return 2;
    }
    // Bad input from the command line or its files (a malformed request, an unknown version)
    // is a usage error with the use-case's own message, whatever command met it.
    if (error instanceof UsageError || error instanceof InputError)
      return failed(2, printable(error.message));
    if (error instanceof DamagedStoreError)
      return failed(4, `the store is damaged: ${printable(error.message)}`);
    // A dependency failed (throttled, a 5xx, too many open files): the step can be run again, and
    // what it was working on is still where it was (an upload stays in the inbox).
    if (error instanceof UpstreamError) {
      const code = (error.cause as { code?: string; name?: string } | undefined)?.code;
      return failed(
        5,
        `${printable(error.message)}${code && !error.message.includes(code) ? ` (${code})` : ''}: nothing was lost; run the command again.`,
      );
    }
    throw error;
  }
};

/** Why the current folder cannot be read (deleted: `ENOENT … uv_cwd`), or undefined when it can. */
const currentFolderGone = (): string | undefined => {
  try {
    process.cwd();
    return undefined;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return `${e.code} ${e.syscall ?? 'uv_cwd'}`;
    throw error;
  }
};

/** Whether `--json` was given as an option (not after `--`, where it would be an operand). */
const wantsJson = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
};

const isMain = process.argv[1] !== undefined && /trustroll(\.mjs)?$/.test(process.argv[1]);
if (isMain) {
  // A reader that stops early (`trustroll export | openssl x509`, `| head`) closes the pipe: that
  // ends the output, it is no failure of trustroll.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // Output that cannot be written (a full disk, /dev/full, a failing device) is a failure of
    // where the output goes, for now: said in one sentence, exit 5, never a stack trace.
    process.stderr.write(
      `trustroll: the output could not be written (${error.code ?? error.message}): free space or write it elsewhere, and run the command again; ` +
        'a change the command made is committed whole or not at all (trustroll history shows which).\n',
    );
    process.exit(5);
  });
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // The message may carry data (a name, a subject): shown escaped, the stack's own lines kept.
      const e = error as Error;
      const text = e.stack ? e.stack.replace(e.message, printable(e.message)) : printable(String(error));
      process.stderr.write(
        `trustroll: unexpected failure: ${terminalSafe(text)}\n` +
          'This is a bug in trustroll, not something you did: please report it with the command you ran and the lines above ' +
          '(the issue tracker of the repository you got trustroll from). Nothing was lost: a change either committed whole or not at all.\n',
      );
      process.exitCode = 3;
    },
  );
}
