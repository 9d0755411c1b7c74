import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const BIN = resolve('bin/trustroll.mjs');

/** Builds the CLI once per test file (what `npm ci` does through `prepare`). */
export const build = () => {
  const r = spawnSync('node', ['scripts/build.mjs'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
};

export interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly port: number;
  readonly stop: () => Promise<number | null>;
}

/** Starts `trustroll up` in `cwd` on a free port and waits until the endpoint listens. */
export const startUp = async (cwd: string, extra: string[] = []): Promise<Running> => {
  const child = spawn(
    'node',
    [BIN, 'up', '--port', '0', '--debounce-ms', '300', '--poll-ms', '100', ...extra],
    {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await waitFor(
    () => {
      const m = /endpoint {3}https:\/\/localhost:(\d+)\//.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    30_000,
    () => out,
  );
  return {
    child,
    output: () => out,
    port,
    stop: () =>
      new Promise((resolveStop) => {
        if (child.exitCode !== null) return resolveStop(child.exitCode);
        child.once('exit', (code) => resolveStop(code));
        child.kill('SIGINT');
      }),
  };
};

export const waitFor = async <T>(
  probe: () => T | undefined,
  timeoutMs = 20_000,
  context: () => string = () => '',
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far:\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

export interface OutboxLine {
  readonly id: string;
  readonly eventType: string;
  readonly severity: string;
  readonly partner?: string;
  readonly subject: string;
  readonly body: string;
}

export const outbox = (dataDir: string): OutboxLine[] => {
  const file = join(dataDir, 'outbox.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutboxLine);
};

/** curl with a client certificate; returns curl's exit status and the body. */
export const curl = (port: number, caPath: string, cert?: string, key?: string) => {
  const args = [
    '-sS',
    '--max-time',
    '10',
    '--cacert',
    caPath,
    ...(cert ? ['--cert', cert, '--key', key!] : []),
    `https://localhost:${port}/`,
  ];
  const r = spawnSync('curl', args, { encoding: 'utf8' });
  return { status: r.status, body: r.stdout, error: r.stderr };
};

/** openssl s_client sending one HTTP request; returns everything it printed. */
export const sClient = (port: number, extra: string[] = []) => {
  const r = spawnSync(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof', ...extra],
    { input: 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n', encoding: 'utf8', timeout: 15_000 },
  );
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
};
