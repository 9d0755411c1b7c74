import type { Command } from 'commander';
import { exitHelp, OUTPUT_STATUS } from '../exit-status.js';
import { type Io, parseCount } from '../io.js';

export const registerServe = (program: Command, io: Io, exit: (code: number) => void): void => {
  program
    .command('serve')
    .description(
      'Serve the local mTLS endpoint on its own, trusting a truststore file: for testing clients. Reloads when the file changes; logs why each refused handshake was refused.',
    )
    .requiredOption('--truststore <file>', 'the truststore PEM the endpoint trusts')
    .option('--port <port>', 'HTTPS port (0 picks a free one)', parseCount('--port', { max: 65535 }), 8443)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--cert <file>', 'server certificate (default: a generated localhost certificate)')
    .option('--key <file>', 'server private key (with --cert)')
    .option('--data-dir <dir>', 'where the generated server certificate is kept', '.trustroll')
    .option(
      '--plain-tls',
      "accept what a plain OpenSSL server accepts (an intermediate only the client sends, SHA-1), not API Gateway's rules",
    )
    .addHelpText(
      'after',
      exitHelp('serve', {
        0: 'stopped (Ctrl-C or SIGTERM)',
        2: 'usage error (the port is taken, a truststore or key file that does not exist or is a folder)',
        ...OUTPUT_STATUS,
      }),
    )
    .action(async (flags) => (await import('../actions/serve.js')).serve(flags, io, exit));
};
