import type { Command } from 'commander';
import { exitHelp, OUTPUT_STATUS } from '../exit-status.js';
import type { Io } from '../io.js';

export const registerProbe = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('probe')
    .description(
      'A real handshake against a live endpoint (the local one, or a real custom domain): protocol, cipher, server chain and expiry, client-certificate request, alert, HTTP status — and what it means.',
    )
    .argument('<host:port>', 'the endpoint, e.g. api.example.com:443 or localhost:8443')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client private key (PEM)')
    .option('--servername <name>', 'SNI name (default: the host)')
    .option('--ca <file>', 'CA to verify the server certificate with (default: system roots)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      exitHelp('probe', {
        0: 'the request got a 2xx or 3xx answer',
        1: 'refused in the handshake, an HTTP error answer, or no answer',
        2: 'usage error (host:port, a file that does not exist or does not match)',
        ...OUTPUT_STATUS,
      }),
    )
    .action(async (target, flags) =>
      (await import('../actions/probe.js')).probeEndpoint(target, flags, io, exit),
    );
};
