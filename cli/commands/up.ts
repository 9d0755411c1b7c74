import type { Command } from 'commander';
import { exitHelp, STORE_STATUSES } from '../exit-status.js';
import { type Io, parseCount } from '../io.js';

export const registerUp = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('up')
    .description(
      'Run the whole pipeline on this machine: watch the inbox, ingest, roll a local mTLS endpoint that plays the custom domain, notify.',
    )
    .option(
      '--data-dir <dir>',
      'local state folder (store, archive, rejected, outbox, demo PKI)',
      '.trustroll',
    )
    .option('--inbox <dir>', 'inbox folder; partners drop CA certificates into <inbox>/<partner>/', 'inbox')
    .option(
      '--port <port>',
      'HTTPS port of the local endpoint (0 picks a free one)',
      parseCount('--port', { max: 65535 }),
      8443,
    )
    .option('--host <address>', 'address the endpoint listens on', '127.0.0.1')
    .option(
      '--report-port <port>',
      'HTTP port on 127.0.0.1 of the truststore report page (trustroll report, made afresh for each request; 0 picks a free one, and its address is printed at start)',
      parseCount('--report-port', { max: 65535 }),
      0,
    )
    .option('--no-report', 'do not serve the report page')
    .option('--domain <name>', 'the custom domain name the endpoint plays', 'localhost')
    .option(
      '--expiring-days <n>',
      'warn about CAs expiring within n days',
      parseCount('--expiring-days', { max: 36_500 }),
      30,
    )
    .option(
      '--debounce-ms <ms>',
      'take a file once nothing wrote to the inbox for this long (at least 50 ms), so a file still being written waits and a burst is one batch',
      parseCount('--debounce-ms', { max: 600_000, why: 'at most ten minutes' }),
      200,
    )
    .option(
      '--poll-ms <ms>',
      'how often to look at the inbox where the file system sends no events (where it does, 20 times as seldom, in case one is missed)',
      parseCount('--poll-ms', { min: 10, max: 60_000, why: 'between 10 ms and a minute' }),
      250,
    )
    .option(
      '--targets <file.json>',
      'a targets configuration ({ "waves": [...], "targets": [...] }): one local endpoint per API Gateway target (its "port", or consecutive ports from --port), each new truststore version rolled wave after wave, verified, and rolled back if a wave fails (README: Targets and waves)',
    )
    .option(
      '--retry-refused',
      'with --targets: roll the latest version again although the last rollout refused it (after fixing a cause outside the version: a probe certificate revoked by mistake, a target that was down)',
    )
    .option('--no-demo', 'do not write the demo PKI on first run')
    .option(
      '--scan-hours <hours>',
      'run the expiry scan on start and then every this many hours (0: never)',
      parseCount('--scan-hours', {
        max: 576,
        why: '0 turns it off; at most 24 days, and the alerts at 3 and 1 days need a scan at least daily',
      }),
      24,
    )
    .option(
      '--plain-tls',
      "the endpoint accepts what a plain OpenSSL server accepts (an intermediate only the client sends, SHA-1), not API Gateway's rules",
    )
    .addHelpText(
      'after',
      exitHelp('up', {
        0: 'stopped (Ctrl-C or SIGTERM) after finishing what it was doing',
        2: 'usage error (the port is taken, overlapping folders, a bad option)',
        ...STORE_STATUSES,
      }),
    )
    .action(async (flags) => exit(await (await import('../actions/up.js')).up(flags, io)));
};
