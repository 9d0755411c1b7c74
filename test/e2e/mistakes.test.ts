import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, build, startUp } from './helpers.js';

/**
 * Ordinary mistakes, made with the real binary: each ends in one sentence saying what is wrong and
 * what to do, exit status 2 (usage), never a stack trace or "unexpected failure".
 */
let dir: string;
let taken: Server;
let takenPort: number;

const cli = (...args: string[]) =>
  spawnSync('node', [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });

const refusedPlainly = (r: ReturnType<typeof cli>, message: RegExp) => {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/unexpected failure|\n\s+at |Error:/);
  expect(r.status).toBe(2);
};

beforeAll(async () => {
  build();
  dir = mkdtempSync(join(tmpdir(), 'trustroll-mistakes-'));
  taken = createServer();
  taken.listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  takenPort = (taken.address() as { port: number }).port;
  const init = cli('pki', 'init', 'pki');
  expect(init.status, init.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  taken.close();
});

describe('a port that is already taken', () => {
  it('serve says so and how to pick another', () => {
    const r = cli('serve', '--truststore', 'pki/ca-bundle.pem', '--port', String(takenPort));
    refusedPlainly(r, new RegExp(`port ${takenPort} on 127\\.0\\.0\\.1 is already in use.*--port`));
  }, 60_000);

  it('a second trustroll up (npm start) says so, and the store it opened is left usable', () => {
    const r = cli('up', '--no-demo', '--port', String(takenPort), '--data-dir', 'second');
    refusedPlainly(r, /is already in use \(is another trustroll up or serve running\?\)/);
    const status = cli('history', '--data-dir', 'second');
    expect(status.stderr).not.toMatch(/unexpected failure/);
  }, 60_000);
});

describe('files and folders the other way round', () => {
  it('serve --truststore <folder> names the folder and what to pass instead', () => {
    const r = cli('serve', '--truststore', 'pki', '--port', '0');
    refusedPlainly(r, /--truststore wants a file, and pki is a folder.*ca-bundle\.pem/);
  }, 60_000);

  it('serve --truststore <missing> says no such file', () => {
    refusedPlainly(
      cli('serve', '--truststore', 'nope.pem', '--port', '0'),
      /--truststore nope\.pem: no such file/,
    );
  }, 60_000);

  it('pki init <file> says the path is a file', () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    refusedPlainly(cli('pki', 'init', 'a-file'), /a-file is a file, not a folder/);
  }, 60_000);

  it('pki init <file>/<sub> says a part of the path is a file', () => {
    mkdirSync(join(dir, 'parent'), { recursive: true });
    writeFileSync(join(dir, 'parent', 'f'), 'x');
    refusedPlainly(
      cli('pki', 'init', 'parent/f/sub'),
      /cannot create parent\/f\/sub: a part of that path is a file/,
    );
  }, 60_000);
});

describe('validity that cannot be', () => {
  it.each([['0'], ['-5'], ['36501']])(
    'pki init --days %s is refused',
    (days) => {
      refusedPlainly(cli('pki', 'init', `days-${days}`, `--days=${days}`), /--days wants a whole number/);
    },
    60_000,
  );

  it('pki init with clients outliving their CAs is refused', () => {
    refusedPlainly(
      cli('pki', 'init', 'outlive', '--days', '400', '--ca-days', '300'),
      /--days 400 outlives the CAs \(--ca-days 300\)/,
    );
  }, 60_000);
});

describe('found by trying to break it', () => {
  it('output to a full device: exit 5 in one sentence, not a stack trace', () => {
    const r = spawnSync('sh', ['-c', `node ${BIN} lint pki/ca-bundle.pem > /dev/full`], {
      encoding: 'utf8',
      cwd: dir,
      timeout: 60_000,
    });
    expect(r.stderr).toMatch(/the output could not be written \(ENOSPC\)/);
    expect(r.stderr).not.toMatch(/\n\s+at |unexpected failure/);
    expect(r.status).toBe(5);
  }, 60_000);

  it.each([
    [['--scan-hours', '600'], /--scan-hours wants a whole number from 0 to 576/],
    [['--poll-ms', '0'], /--poll-ms wants a whole number from 10 to 60000/],
    [['--debounce-ms', '99999999999'], /--debounce-ms wants a whole number from 0 to 600000/],
  ])(
    'up %j is refused (a timer past its range would fire every millisecond)',
    (flags, message) => {
      refusedPlainly(cli('up', '--no-demo', '--port', '0', '--data-dir', 'timers', ...flags), message);
    },
    60_000,
  );

  it('promote reads one answer line: `yes | trustroll promote` promotes, "n" declines', () => {
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', 'bundle.pem'), readFileSync(join(dir, 'pki', 'ca-bundle.pem')));
    expect(cli('ingest', '--data-dir', 'src').status).toBe(0);
    const run = (answer: string, to: string, ...extra: string[]) =>
      spawnSync('node', [BIN, 'promote', '--from', 'src', '--to', to, ...extra], {
        encoding: 'utf8',
        cwd: dir,
        input: answer,
        timeout: 60_000,
      });
    const yes = run('y\ny\ny\n', 'promoted', '--create');
    expect(yes.status, yes.stderr).toBe(0);
    expect(cli('history', '--data-dir', 'promoted').stdout).toMatch(/revision 1/);
    const no = run('n\ny\n', 'declined', '--create');
    expect(no.stderr).toMatch(/Not promoted/);
    expect(no.status).toBe(1);
    // Under --json, nothing to do and a refusal at the prompt are JSON too.
    const again = run('', 'promoted', '--yes', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
    expect(again.status).toBe(0);
    const declined = run('n\n', 'declined2', '--create', '--json');
    expect(JSON.parse(declined.stdout)).toMatchObject({ outcome: 'declined' });
    expect(declined.status).toBe(1);
  }, 60_000);

  it("promote refuses, before any prompt, to give acme's CA names to beta: exit 1, the target unchanged", () => {
    // Two demo PKIs carry the same CA names under other keys: dev got the second through beta.
    expect(cli('pki', 'init', 'pki-other').status).toBe(0);
    for (const [inbox, partner, pki] of [
      ['inbox-prod', 'acme', 'pki'],
      ['inbox-dev', 'beta', 'pki-other'],
    ] as const) {
      mkdirSync(join(dir, inbox, partner), { recursive: true });
      writeFileSync(join(dir, inbox, partner, 'bundle.pem'), readFileSync(join(dir, pki, 'ca-bundle.pem')));
    }
    expect(cli('ingest', '--inbox', 'inbox-prod', '--data-dir', 'prod').status).toBe(0);
    expect(cli('ingest', '--inbox', 'inbox-dev', '--data-dir', 'dev').status).toBe(0);
    const before = cli('history', '--data-dir', 'prod').stdout;
    const r = spawnSync('node', [BIN, 'promote', '--from', 'dev', '--to', 'prod'], {
      encoding: 'utf8',
      cwd: dir,
      input: 'y\n',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/Promote\? \[y\/N\]/);
    expect(r.stdout).toMatch(/never moves a CA to another partner/);
    expect(r.stdout).toMatch(
      /of partner beta in the source \(partner acme in the target\): Another partner already has a CA named/,
    );
    expect(cli('history', '--data-dir', 'prod').stdout).toBe(before);
    expect(before).toMatch(/revision 1/);
  }, 60_000);

  it("serve with a key that is not the certificate's, or a key given as the certificate: exit 2 naming the files", () => {
    refusedPlainly(
      cli(
        'serve',
        '--truststore',
        'pki/ca-bundle.pem',
        '--cert',
        'pki/server.pem',
        '--key',
        'pki/client.key',
        '--port',
        '0',
      ),
      /--key pki\/client\.key does not belong to the certificate in --cert pki\/server\.pem/,
    );
    refusedPlainly(
      cli(
        'serve',
        '--truststore',
        'pki/ca-bundle.pem',
        '--cert',
        'pki/client.key',
        '--key',
        'pki/client.key',
        '--port',
        '0',
      ),
      /--cert pki\/client\.key and --key pki\/client\.key must be a PEM certificate and its PEM private key/,
    );
  }, 60_000);

  it('diagnose --truststore - reads the truststore from standard input', () => {
    const r = spawnSync('node', [BIN, 'diagnose', '--truststore', '-', '--cert', 'pki/client.pem'], {
      encoding: 'utf8',
      cwd: dir,
      input: readFileSync(join(dir, 'pki', 'ca-bundle.pem')),
      timeout: 60_000,
    });
    expect(r.stdout).toMatch(/^ACCEPTED/);
    expect(r.status).toBe(0);
  }, 60_000);

  it('pki init writes every file with a final newline, so files concatenate into valid PEM', () => {
    for (const file of ['client-chain.pem', 'root-ca.pem', 'ca-bundle.pem', 'client.key', 'server.pem'])
      expect(readFileSync(join(dir, 'pki', file), 'utf8').endsWith('\n'), file).toBe(true);
  });

  it('lint - - is refused: standard input can be read once', () => {
    const r = spawnSync('node', [BIN, 'lint', '-', '-'], {
      encoding: 'utf8',
      cwd: dir,
      input: '',
      timeout: 60_000,
    });
    expect(r.stderr).toMatch(/standard input \(-\) can be named once/);
    expect(r.status).toBe(2);
  }, 60_000);

  it.each([['0x10'], ['1e4'], ['99999999999999999999'], ['30,,14']])(
    'scan --thresholds %s is refused',
    (value) => {
      refusedPlainly(
        cli('scan', '--thresholds', value, 'pki/ca-bundle.pem'),
        /--thresholds wants whole numbers of days/,
      );
    },
    60_000,
  );

  it('a second trustroll up on the same data folder is refused while the first runs', async () => {
    const home = join(dir, 'one-up');
    mkdirSync(home, { recursive: true });
    const first = await startUp(home, ['--no-demo']);
    try {
      const second = spawnSync('node', [BIN, 'up', '--port', '0', '--no-demo'], {
        encoding: 'utf8',
        cwd: home,
        timeout: 60_000,
      });
      expect(second.stderr).toMatch(
        /another trustroll up \(process \d+\) is running with the data folder \.trustroll/,
      );
      expect(second.status).toBe(2);
    } finally {
      await first.stop();
    }
  }, 120_000);

  it('status: an endpoint whose pid now belongs to another process is not running', () => {
    const home = join(dir, 'reused-pid');
    mkdirSync(join(home, '.trustroll', 'endpoint'), { recursive: true });
    mkdirSync(join(home, '.trustroll', 'store'), { recursive: true });
    // This test's own process is alive, but it is not the process that wrote the status.
    writeFileSync(
      join(home, '.trustroll', 'endpoint', 'status.json'),
      JSON.stringify({
        name: 'localhost',
        status: 'AVAILABLE',
        truststoreVersion: null,
        warnings: [],
        updatedAt: new Date().toISOString(),
        pid: process.pid,
        pidStart: 'not-this-process',
        host: hostname(),
      }),
    );
    const r = spawnSync('node', [BIN, 'status'], { encoding: 'utf8', cwd: home, timeout: 60_000 });
    expect(r.stdout).toMatch(/the local endpoint is not running/);
    expect(r.stdout).not.toMatch(/AVAILABLE/);
    expect(r.status).toBe(1);
  }, 60_000);
});
