import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { EndpointStatusFile } from '../../shared/adapters/local/endpoint-status.js';
import { consoleLog } from '../../shared/adapters/local/log.js';
import { InputError } from '../../shared/errors.js';
import {
  type ChangeReport,
  diffVersions,
  domainStatus,
  parseRemovalRequest,
  type RemovalRequest,
  removeCas,
  rollbackTruststore,
  truststoreHistory,
} from '../../shared/pipeline/lifecycle.js';
import type { PublishDeps } from '../../shared/pipeline/publish.js';
import { systemClock } from '../../shared/ports.js';
import { type Io, UsageError } from '../io.js';
import { type LocalPaths, layout, localNotifier, localStore } from '../local.js';

interface StoreFlags {
  readonly dataDir: string;
  readonly inbox: string;
  readonly json?: boolean;
}

const withStore = (cmd: Command) =>
  cmd
    .option('--data-dir <dir>', 'local state folder', '.trustroll')
    .option('--inbox <dir>', 'inbox folder', 'inbox')
    .option('--json', 'print the result as JSON');

/** Local-mode dependencies: a running `trustroll up` rolls its endpoint to what these publish. */
const localDeps = (flags: StoreFlags, io: Io): PublishDeps => {
  const paths: LocalPaths = { dataDir: flags.dataDir, inboxDir: flags.inbox };
  return {
    store: localStore(paths),
    gateway: new EndpointStatusFile(join(layout(paths).endpoint, 'status.json')),
    notifier: localNotifier(paths, { ...io, out: io.err }),
    clock: systemClock,
    log: consoleLog(io.err),
    roll: { domains: [] },
  };
};

const printChange = (io: Io, r: ChangeReport, json?: boolean) => {
  if (json) return io.out(`${JSON.stringify(r, null, 2)}\n`);
  const lines = [r.message];
  for (const e of r.removed)
    lines.push(`  - ${e.subject} (partner ${e.partner}, sha256 ${e.fingerprint.slice(0, 16)}…)`);
  for (const e of r.added)
    lines.push(`  + ${e.subject} (partner ${e.partner}, sha256 ${e.fingerprint.slice(0, 16)}…)`);
  if (r.outcome === 'changed')
    lines.push(
      `truststore revision ${r.revision}, version ${r.version ?? '(unpublished)'}; a running trustroll up rolls its endpoint to it.`,
    );
  io.out(`${lines.join('\n')}\n`);
};

export const registerLifecycle = (program: Command, io: Io, exit: (code: number) => void): void => {
  withStore(
    program
      .command('remove')
      .description(
        'Remove CAs (offboard a partner, withdraw a CA) and the CAs left without a root, in one new version.',
      )
      .option('--fingerprint <sha256...>', 'fingerprints (or unique prefixes of 12+ hex digits) to remove')
      .option('--subject <dn>', 'the RFC 4514 subject to remove')
      .option('--partner <name>', "remove this partner's CAs (or restrict the match to them)")
      .option('--reason <text>', 'why (kept in the history and the alert)')
      .option('--requested-by <who>', 'who asked', process.env.USER ?? 'cli')
      .option(
        '--request <file>',
        'a removal request JSON file {fingerprints|subject|partner, reason, requestedBy}',
      ),
  )
    .addHelpText(
      'after',
      '\nExit status: 0 removed, 1 the request named nothing in the truststore, 2 usage error.',
    )
    .action(
      async (
        flags: StoreFlags & {
          fingerprint?: string[];
          subject?: string;
          partner?: string;
          reason?: string;
          requestedBy: string;
          request?: string;
        },
      ) => {
        let request: RemovalRequest;
        try {
          request = parseRemovalRequest(
            flags.request
              ? JSON.parse(await readFile(flags.request, 'utf8'))
              : {
                  ...(flags.fingerprint ? { fingerprints: flags.fingerprint } : {}),
                  ...(flags.subject ? { subject: flags.subject } : {}),
                  ...(flags.partner ? { partner: flags.partner } : {}),
                  reason: flags.reason ?? '',
                  requestedBy: flags.requestedBy,
                },
          );
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        const report = await removeCas(request, localDeps(flags, io));
        printChange(io, report, flags.json);
        exit(report.outcome === 'changed' ? 0 : 1);
      },
    );

  withStore(
    program
      .command('rollback')
      .description(
        'Restore the CA set of an earlier truststore version as a new version (history is never rewritten), and roll.',
      )
      .option('--to <version>', 'version id or revision number (default: the version before the latest)'),
  ).action(async (flags: StoreFlags & { to?: string }) => {
    try {
      const report = await rollbackTruststore(flags.to, localDeps(flags, io));
      printChange(io, report, flags.json);
      exit(report.outcome === 'changed' ? 0 : 1);
    } catch (error) {
      if (error instanceof InputError) throw new UsageError(error.message);
      throw error;
    }
  });

  withStore(
    program
      .command('history')
      .description('Truststore versions with what changed, why and when, newest first.'),
  ).action(async (flags: StoreFlags) => {
    const lines = await truststoreHistory(localDeps(flags, io).store);
    if (flags.json) io.out(`${JSON.stringify(lines, null, 2)}\n`);
    else {
      const out: string[] = [];
      for (const l of lines) {
        out.push(`revision ${l.revision}  version ${l.version ?? '(unpublished)'}  ${l.at}  ${l.reason}`);
        for (const a of l.added) out.push(`    + ${a.subject} (${a.partner})`);
        for (const r of l.removed) out.push(`    - ${r.subject} (${r.partner})`);
      }
      io.out(`${out.join('\n') || 'No truststore versions yet.'}\n`);
    }
    exit(0);
  });

  withStore(
    program
      .command('diff')
      .description('CAs added and removed between two truststore versions, with partner and expiry.')
      .argument('<a>', 'version id or revision number')
      .argument('<b>', 'version id or revision number'),
  ).action(async (a: string, b: string, flags: StoreFlags) => {
    try {
      const d = await diffVersions(localDeps(flags, io).store, a, b);
      if (flags.json) io.out(`${JSON.stringify(d, null, 2)}\n`);
      else {
        const out = [`${d.from} -> ${d.to}`];
        for (const x of d.added)
          out.push(`  + ${x.subject} (partner ${x.partner}, expires ${x.notAfter.slice(0, 10)})`);
        for (const x of d.removed)
          out.push(`  - ${x.subject} (partner ${x.partner}, expires ${x.notAfter.slice(0, 10)})`);
        if (d.added.length + d.removed.length === 0) out.push('  (same CA set)');
        io.out(`${out.join('\n')}\n`);
      }
      exit(0);
    } catch (error) {
      if (error instanceof InputError) throw new UsageError(error.message);
      throw error;
    }
  });

  withStore(
    program
      .command('status')
      .description(
        "The local endpoint's truststore version, status and warnings, whether it is the latest, and drift.",
      )
      .option('--domain <name>', 'the domain the local endpoint plays', 'localhost'),
  ).action(async (flags: StoreFlags & { domain: string }) => {
    const deps = localDeps(flags, io);
    const lines = await domainStatus({ ...deps, roll: { domains: [flags.domain] } });
    if (flags.json) io.out(`${JSON.stringify(lines, null, 2)}\n`);
    else {
      for (const l of lines) {
        io.out(
          `${l.name}: ${l.status}, truststore version ${l.truststoreVersion ?? 'none'}${l.latest ? ' (latest)' : ' (NOT the latest)'}` +
            `${l.drift ? `\n  DRIFT: ${l.drift}` : ''}${l.warnings.map((w) => `\n  warning: ${w}`).join('')}\n`,
        );
      }
    }
    exit(lines.some((l) => l.drift || !l.latest) ? 1 : 0);
  });
};
