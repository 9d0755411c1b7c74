import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../../ports.js';
import { CONTENT_TYPES, type Report, type ReportFormat, renderReport } from '../../report/index.js';
import { listenRefused } from './endpoint.js';

/** The report's paths on the local page: the page itself, and the same data as JSON and CSV. */
const PATHS: Readonly<Record<string, ReportFormat>> = {
  '/': 'html',
  '/index.html': 'html',
  '/report.json': 'json',
  '/truststore.csv': 'csv',
};

/**
 * The page may load nothing: no script, no font, no image from anywhere (the page needs none;
 * the header keeps it so should a subject ever get through the escaping).
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The report of `trustroll up`, over plain HTTP on a loopback address: made afresh for each
 * request from the state as it is (a page of 1,000 CAs takes milliseconds), so it is never
 * older than the store. Read-only: it answers GET and HEAD, nothing else.
 */
export class ReportServer {
  private server: Server | undefined;

  constructor(
    private readonly options: {
      readonly host: string;
      readonly port: number;
      readonly report: () => Promise<Report>;
      readonly log: Log;
    },
  ) {}

  /** The port listened on (a free one when asked for 0). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.options.port;
  }

  get url(): string {
    return `http://${this.options.host}:${this.port}/`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const format = PATHS[path];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', ...HEADERS }).end();
        return;
      }
      if (!format) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...HEADERS });
        res.end('not found: the report is at /, /report.json and /truststore.csv\n');
        return;
      }
      this.options.report().then(
        (report) => {
          const body = Buffer.from(renderReport(report, format));
          res.writeHead(200, {
            'content-type': CONTENT_TYPES[format],
            'content-length': body.length,
            ...HEADERS,
          });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (error: Error) => {
          // A store that cannot be read is said, never shown as an empty report.
          this.options.log.error('report not served', { error: error.message });
          res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...HEADERS });
          res.end(`the report cannot be made now: ${error.message}\n`);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(listenRefused(error, this.options.host, this.options.port, '--report-port')),
      );
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
