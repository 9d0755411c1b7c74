import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { DAY, type Issued, leaf, root, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from '../integration/aws.js';
import { BIN, build, outbox } from './helpers.js';

/**
 * The CLI as a newcomer meets it (issue 16): a flag, a typo or a moment given on the command line
 * never yields a silent wrong answer. Each case runs the built CLI as a subprocess.
 */

let work: string;
const cas: Issued[] = [];

const cli = (cwd: string, ...args: string[]) => cliEnv(cwd, {}, ...args);
const cliEnv = (cwd: string, env: Record<string, string>, ...args: string[]) => {
  const r = spawnSync('node', [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
};
/** The CLI without blocking this process (the proxy below answers from it). */
const cliAsync = (cwd: string, env: Record<string, string>, ...args: string[]) =>
  new Promise<ReturnType<typeof cli>>((resolve) => {
    const child = spawn('node', [BIN, ...args], { cwd, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (status) => resolve({ status, out, err }));
  });
/** Exit 2 with one sentence, no stack trace. */
const refused = (r: ReturnType<typeof cli>, message: RegExp) => {
  expect(r.status, r.err + r.out).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/unexpected failure|Error:|at .*\.m?js:\d+/);
};

/** A local store in `dir` whose revisions 1..n each add one CA (`cas[0]`, `cas[1]`, …). */
const storeWith = (dir: string, n: number) => {
  for (let i = 0; i < n; i++) {
    mkdirSync(join(dir, 'inbox', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'acme', `ca${i}.pem`), cas[i]!.pem);
    const r = cli(dir, 'ingest');
    expect(r.status, r.err).toBe(0);
  }
  return dir;
};

const fresh = (name: string) => {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

beforeAll(async () => {
  build();
  work = mkdtempSync(join(tmpdir(), 'trustroll-newcomer-'));
  for (const i of [0, 1, 2])
    cas.push(await root(`CN=Newcomer Root ${i},O=Acme`, { keySlot: `newcomer-${i}` }));
}, 180_000);

describe('promote --version (it was taken for the program version)', () => {
  it('promotes the version asked for and says so, instead of printing the program version', () => {
    const from = storeWith(fresh('promote-from'), 2);
    const to = fresh('promote-to');
    const target = join(to, '.trustroll');
    // The target holds a store of its own (CA 2), so the promotion has something to change.
    mkdirSync(join(to, 'inbox', 'beta'), { recursive: true });
    writeFileSync(join(to, 'inbox', 'beta', 'ca.pem'), cas[2]!.pem);
    expect(cli(to, 'ingest').status).toBe(0);

    const r = cli(
      work,
      'promote',
      '--from',
      join(from, '.trustroll'),
      '--to',
      target,
      '--version',
      '1',
      '--yes',
    );
    expect(r.out).not.toMatch(/^\d+\.\d+\.\d+\s*$/);
    expect(r.status, r.err).toBe(0);
    expect(r.err).toMatch(/version 000001 \(revision 1\)/);
    const history = cli(to, 'history', '--json');
    const [latest] = JSON.parse(history.out) as { reason: string; added: { subject: string }[] }[];
    expect(latest!.reason).toMatch(/promotion of .* version 000001/);
    expect(latest!.added.map((a) => a.subject)).toEqual(['CN=Newcomer Root 0,O=Acme']);
  });

  it('keeps trustroll --version', () => {
    const r = cli(work, '--version');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('scan at another moment is a preview (it used to alert and record, silencing the real alerts)', () => {
  it('--at, --dry-run and --json send and record nothing; the real scan then sends the 60-day alert', async () => {
    const dir = fresh('scan');
    const soon = await root('CN=Soon Root,O=Soon', {
      keySlot: 'newcomer-soon',
      now: new Date(),
      notAfter: new Date(Date.now() + 50 * DAY),
    });
    mkdirSync(join(dir, 'inbox', 'soon'), { recursive: true });
    writeFileSync(join(dir, 'inbox', 'soon', 'ca.pem'), soon.pem);
    expect(cli(dir, 'ingest').status).toBe(0);
    const data = join(dir, '.trustroll');
    const states = () => readdirSync(join(data, 'store', 'state', 'truststore.json.v')).sort();
    const before = { states: states(), outbox: outbox(data).length };

    const future = cli(dir, 'scan', '--at', new Date(Date.now() + 40 * DAY).toISOString());
    expect(future.status, future.err).toBe(0);
    expect(future.out).toMatch(
      /Preview: a scan at this moment would send 1 alert \(nothing was sent or recorded\)/,
    );
    expect(future.out).toMatch(/CA expires in (9|10) days: CN=Soon Root,O=Soon/);
    const dry = cli(dir, 'scan', '--dry-run');
    expect(dry.status, dry.err).toBe(0);
    expect(dry.out).toMatch(/would send 1 alert[\s\S]*CA expires in (49|50) days: CN=Soon Root/);
    const json = cli(dir, 'scan', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      preview: true,
      wouldAlert: [expect.stringMatching(/in (49|50) days/)],
    });
    expect({ states: states(), outbox: outbox(data).length }).toEqual(before);

    const real = cli(dir, 'scan');
    expect(real.status, real.err).toBe(0);
    expect(real.out).not.toMatch(/Preview/);
    const sent = outbox(data).slice(before.outbox);
    expect(sent.map((n) => [n.eventType, n.severity])).toEqual([['ca.expiring', 'info']]);
    expect(sent[0]!.subject).toMatch(/in (49|50) days: CN=Soon Root/);
  });
});

describe('a path that holds no store is an error, not an empty store', () => {
  it('every command reading a local store names the path and what to do, and creates nothing there', () => {
    const dir = storeWith(fresh('typo'), 2);
    const typo = join(dir, 'typo');
    const noStore =
      /typo holds no trustroll store: run trustroll up or trustroll ingest there first, or check --data-dir/;
    for (const args of [
      ['history'],
      ['history', '--json'],
      ['diff', '1', '2'],
      ['status'],
      ['rollback'],
      ['remove', '--partner', 'acme', '--reason', 'r'],
      ['repair'],
      ['scan'],
      ['scan', '--dry-run'],
      ['export'],
    ]) {
      refused(cli(dir, ...args, '--data-dir', typo), noStore);
    }
    refused(cli(dir, 'history', '--store', typo), noStore);
    refused(
      cli(dir, 'scan', '--store', typo),
      /typo holds no trustroll store: .*check --data-dir or --store/,
    );
    expect(existsSync(typo)).toBe(false);
    // The real store still answers.
    expect(cli(dir, 'history').status).toBe(0);
  });

  it('promote --to a new store needs --create; --from must exist', () => {
    const dir = storeWith(fresh('promote-typo'), 1);
    const from = join(dir, '.trustroll');
    const to = join(dir, 'prod-typo');
    refused(
      cli(dir, 'promote', '--from', from, '--to', to, '--yes'),
      /prod-typo holds no trustroll store: check --to, or pass --create/,
    );
    expect(existsSync(to)).toBe(false);
    refused(
      cli(dir, 'promote', '--from', join(dir, 'dev-typo'), '--to', from, '--yes'),
      /dev-typo holds no trustroll store.*--from/,
    );
    const created = cli(dir, 'promote', '--from', from, '--to', to, '--create', '--yes');
    expect(created.status, created.err).toBe(0);
    expect(cli(dir, 'history', '--data-dir', to).out).toMatch(/revision 1 .*promotion of/);
  });

  it('ingest names a file that is not there as such', () => {
    const dir = storeWith(fresh('ingest-typo'), 1);
    refused(cli(dir, 'ingest', 'nope.pem'), /cannot read nope\.pem: no such file/);
    refused(cli(dir, 'ingest', 'inbox/acme/nope.pem'), /cannot read inbox\/acme\/nope\.pem: no such file/);
  });
});

/**
 * The emulator's S3 behind a proxy that plays API Gateway for a domain it does not have (no
 * emulator has API Gateway): GetDomainName answers 404 NotFoundException, as AWS does.
 */
const withApiGateway = async (moto: string) => {
  const target = new URL(moto);
  const server = createServer((req, res) => {
    if (/^\/(v2\/)?domainnames\//.test(req.url ?? '')) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'NotFoundException' });
      res.end(JSON.stringify({ message: 'Invalid domain name identifier specified' }));
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
};

describe('s3:// stores: no state there, or an unknown domain, is a usage error', () => {
  it('names a bucket prefix with no trustroll state, and a custom domain API Gateway does not have', async () => {
    const aws = emulator();
    const bucket = await versionedBucket(aws.s3);
    const dev = new S3ObjectStore(aws.s3, bucket, 'env/dev/');
    const key = 'inbox/acme/ca.pem';
    const { version } = await dev.put(key, toBytes(cas[0]!.pem));
    await ingestUploads([{ key, version }], {
      store: dev,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(Date.now()),
      log: memoryLog(),
      config: { roll: { domains: [] } },
    });
    const proxy = await withApiGateway(aws.endpoint);
    const env = {
      TRUSTROLL_AWS_ENDPOINT: proxy.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
    };
    const s3 = (...args: string[]) => cliAsync(work, env, ...args);
    expect((await s3('history', '--store', `s3://${bucket}/env/dev`)).status).toBe(0);
    for (const args of [['history'], ['status'], ['diff', '1', '2'], ['rollback']]) {
      refused(
        await s3(...args, '--store', `s3://${bucket}/env/typo`),
        new RegExp(
          `s3://${bucket}/env/typo holds no trustroll store \\(no state/truststore.json under it\\): check the bucket and prefix of --store`,
        ),
      );
    }
    refused(
      await s3('status', '--store', `s3://${bucket}/env/dev`, '--domain', 'nowhere.example.com'),
      /API Gateway has no custom domain nowhere\.example\.com here .*: check --domain, --region and --profile/,
    );
    // A scan of an S3 store from here is a preview: the expiry-scan Lambda is the one that alerts.
    const state = (await dev.get('state/truststore.json')).version;
    const scan = await s3('scan', '--store', `s3://${bucket}/env/dev`, '--at', '2029-05-20');
    expect(scan.status, scan.err).toBe(0);
    expect(scan.out).toMatch(
      /Preview: a scan at this moment would send 1 alert \(nothing was sent or recorded\)/,
    );
    expect((await s3('scan', '--store', `s3://${bucket}/env/dev`)).out).toMatch(
      /Preview: .*would send no alert/,
    );
    expect((await dev.get('state/truststore.json')).version).toBe(state);
    refused(await s3('scan', '--store', `s3://${bucket}/env/typo`), /env\/typo holds no trustroll store/);
    const exported = await s3('export', '--store', `s3://${bucket}/env/dev`);
    expect(exported.status, exported.err).toBe(0);
    expect(exported.out).toBe(
      Buffer.from((await dev.get('truststore/truststore.pem')).body).toString('utf8'),
    );
    await proxy.close();
  });
});

describe('export, and diagnose against the current truststore', () => {
  it('export prints the exact bytes of the current or a given version, -o writes them, an unknown version lists the known ones', () => {
    const dir = storeWith(fresh('export'), 2);
    const versions = join(dir, '.trustroll', 'store', 'truststore', 'truststore.pem.v');
    const bytes = (v: string) => readFileSync(join(versions, v), 'utf8');
    const current = cli(dir, 'export');
    expect(current.status, current.err).toBe(0);
    expect(current.out).toBe(bytes('000002'));
    expect(current.out.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const first = cli(dir, 'export', '--version', '1');
    expect(first.out).toBe(bytes('000001'));
    expect(cli(dir, 'export', '--version', '000001').out).toBe(bytes('000001'));
    const written = cli(dir, 'export', '-o', 'current.pem');
    expect(written.status, written.err).toBe(0);
    expect(written.out).toBe('');
    expect(written.err).toMatch(
      /wrote truststore version 000002 \(revision 2, 2 CAs\) of \.trustroll to current\.pem/,
    );
    expect(readFileSync(join(dir, 'current.pem'), 'utf8')).toBe(bytes('000002'));
    refused(
      cli(dir, 'export', '--version', '9'),
      /9 is not a truststore version or revision of this store; known versions, newest first: 000002 \(revision 2\), 000001 \(revision 1\)/,
    );
    refused(cli(dir, 'export', '--data-dir', 'typo'), /typo holds no trustroll store/);
  });

  it('export into a reader that stops early (| head, | openssl x509) ends quietly, with no stack trace', async () => {
    const dir = storeWith(fresh('export-pipe'), 1);
    const r = await new Promise<{ status: number | null; err: string }>((resolve) => {
      const child = spawn('node', [BIN, 'export'], { cwd: dir });
      // The reader is gone before the CLI writes a byte.
      child.stdout.destroy();
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (status) => resolve({ status, err }));
    });
    expect(r.err).not.toMatch(/EPIPE|Unhandled|at .*\.m?js:\d+/);
    expect(r.status).toBe(0);
  });

  it("diagnose without --truststore judges against the store's current truststore, and says which", async () => {
    const dir = storeWith(fresh('diagnose'), 1);
    const trusted = await leaf('CN=client.acme.example,O=Acme', cas[0]!, { keySlot: 'newcomer-client' });
    const stranger = await leaf('CN=client.stranger.example,O=Stranger', cas[2]!, {
      keySlot: 'newcomer-client',
    });
    writeFileSync(join(dir, 'trusted.pem'), trusted.pem);
    writeFileSync(join(dir, 'stranger.pem'), stranger.pem);
    const ok = cli(dir, 'diagnose', '--cert', 'trusted.pem');
    expect(ok.status, ok.err).toBe(0);
    expect(ok.out).toMatch(/^ACCEPTED: CN=client\.acme\.example,O=Acme/);
    expect(ok.err).toMatch(/judging against truststore version 000001 \(revision 1\) of \.trustroll/);
    const no = cli(dir, 'diagnose', '--cert', 'stranger.pem');
    expect(no.status).toBe(1);
    expect(no.out).toMatch(/^REFUSED: .*\[issuer-unknown\]/s);
    // An explicit --truststore is used as before.
    writeFileSync(join(dir, 'other.pem'), cas[2]!.pem);
    expect(cli(dir, 'diagnose', '--cert', 'stranger.pem', '--truststore', 'other.pem').status).toBe(0);
    refused(
      cli(dir, 'diagnose', '--cert', 'trusted.pem', '--data-dir', 'typo'),
      /no --truststore given, and typo holds no trustroll store.*or pass --truststore/,
    );
  });
});
