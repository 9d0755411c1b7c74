import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EndpointStatusFile } from '../../../shared/adapters/local/endpoint-status.js';
import { runCli } from '../../fixtures/cli.js';
import { partnerChain, pemOf } from '../../fixtures/pki.js';

let dir: string;
let local: string[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-status-'));
  local = ['--data-dir', join(dir, '.trustroll'), '--inbox', join(dir, 'inbox')];
  const chain = await partnerChain('Status');
  mkdirSync(join(dir, 'inbox', 'status'), { recursive: true });
  writeFileSync(join(dir, 'inbox', 'status', 'ca.pem'), pemOf(chain.root, chain.intermediate));
});

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('trustroll status', () => {
  it('says plainly that no local endpoint has run yet, with the store state, instead of crashing', async () => {
    const none = await runCli(['status', ...local]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(
      /\.trustroll holds no trustroll store: run trustroll up or trustroll ingest there first/,
    );
    // A data folder whose endpoint material was made (by up or serve), before any upload.
    mkdirSync(join(dir, '.trustroll', 'endpoint'), { recursive: true });
    const empty = await runCli(['status', ...local]);
    expect(empty.code).toBe(1);
    expect(empty.out).toMatch(/: no truststore version yet\n/);
    expect(empty.out).toMatch(
      /^localhost: no local endpoint has run with this data folder yet .*start trustroll up/m,
    );
    expect(empty.err).not.toMatch(/NotFoundError|unexpected failure|at .*\.[jt]s:\d+/);

    expect((await runCli(['ingest', ...local])).code).toBe(0);
    const stored = await runCli(['status', ...local]);
    expect(stored.code).toBe(1);
    expect(stored.out).toMatch(/: latest truststore version 000001 \(revision 1\)\n/);
    expect(stored.out).toMatch(/no local endpoint has run with this data folder yet/);

    const json = await runCli(['status', '--json', ...local]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject([
      {
        name: 'localhost',
        status: 'NOT_STARTED',
        latest: false,
        latestVersion: '000001',
        latestRevision: 1,
        note: expect.stringMatching(/start trustroll up/),
      },
    ]);
  });

  it('reports the endpoint once up has run, by the domain it plays, and names a --local-domain it does not play', async () => {
    // What trustroll up writes on start and after each roll.
    await new EndpointStatusFile(join(dir, '.trustroll', 'endpoint', 'status.json')).write({
      name: 'api.local',
      status: 'AVAILABLE',
      truststoreVersion: '000001',
      warnings: [],
    });
    const fine = await runCli(['status', ...local]);
    expect(fine.code).toBe(0);
    expect(fine.out).toMatch(
      /latest truststore version 000001 \(revision 1\)\napi\.local: AVAILABLE, truststore version 000001 \(latest\)\n$/,
    );
    const other = await runCli(['status', '--local-domain', 'localhost', ...local]);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/^localhost: the local endpoint plays api\.local, not localhost/m);
    expect(other.err).not.toMatch(/NotFoundError|unexpected failure/);
  });

  it('names a damaged or behind revocation index, which repair publishes again', async () => {
    const index = join(dir, '.trustroll', 'store', 'revocation', 'index.trx.v');
    const [first] = readdirSync(index).filter((f) => /^\d+$/.test(f));
    truncateSync(join(index, first!), 40);
    const damaged = await runCli(['status', ...local]);
    expect(damaged.code).toBe(1);
    expect(damaged.out).toMatch(
      /^DAMAGED: revocation\/index\.trx \(version \S+\) does not hold what it was written with .*Run trustroll repair/m,
    );
    // authorize says so too, instead of deciding with what it cannot read (4: damaged).
    const client = file('client.pem', pemOf((await partnerChain('Status')).client));
    const refused = await runCli(['authorize', '--cert', client, ...local.slice(0, 2)]);
    expect(refused.code).toBe(4);
    expect(refused.err).toMatch(/does not hold what it was written with.*Run trustroll repair/);
    // So does diagnose: it would otherwise judge the client by what the damaged index says.
    const diagnosed = await runCli(['diagnose', '--cert', client, ...local.slice(0, 2)]);
    expect(diagnosed.code).toBe(4);
    expect(diagnosed.err).toMatch(/does not hold what it was written with.*Run trustroll repair/);
    const repaired = await runCli(['repair', ...local.slice(0, 2)]);
    expect(repaired.code, repaired.err).toBe(0);
    expect(repaired.out).toMatch(
      /the revocation index \(version \S+\) was damaged, behind the state or built by an older trustroll; published again/,
    );
    expect((await runCli(['status', ...local])).code).toBe(0);

    // A change (a revocation by hand) whose index never made it: the index is behind the state.
    const chain = await partnerChain('Status');
    const revoked = await runCli([
      'revoke',
      '--cert',
      file('client.pem', pemOf(chain.client)),
      '--reason',
      'key lost',
      ...local.slice(0, 2),
    ]);
    expect(revoked.code, revoked.err).toBe(0);
    const newest = readdirSync(index)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    for (const f of [newest, `${newest}.meta.json`]) rmSync(join(index, f), { force: true });
    const behind = await runCli(['status', '--json', ...local]);
    expect(behind.code).toBe(1);
    expect(JSON.parse(behind.out)[0].revocationIndexBehind).toMatch(
      /^the revocation index \(version \S+\) was built from revision 1, revocation generation 0, the state is at revision 1, revocation generation 1: .*or the newest index was deleted by hand/,
    );
    // authorize gives no decision from an index that lacks a recorded revocation (it would allow).
    const behindAuthorize = await runCli([
      'authorize',
      '--cert',
      file('client.pem', pemOf(chain.client)),
      ...local.slice(0, 2),
    ]);
    expect(behindAuthorize.code).toBe(4);
    expect(behindAuthorize.err).toMatch(/does not hold every change the state records/);
    // diagnose neither: the index behind would call the revoked client ACCEPTED, exit 0.
    const behindDiagnose = await runCli([
      'diagnose',
      '--cert',
      file('client.pem', pemOf(chain.client)),
      ...local.slice(0, 2),
    ]);
    expect(behindDiagnose.code).toBe(4);
    expect(behindDiagnose.out).not.toMatch(/ACCEPTED/);
    expect(behindDiagnose.err).toMatch(/does not hold every change the state records/);
    // Nor from no index at all where versions were published (deleted by hand).
    rmSync(index, { recursive: true, force: true });
    const missing = await runCli([
      'diagnose',
      '--cert',
      file('client.pem', pemOf(chain.client)),
      ...local.slice(0, 2),
    ]);
    expect(missing.code).toBe(4);
    expect(missing.err).toMatch(/the revocation index, is missing \(deleted by hand\).*Run trustroll repair/);
    expect((await runCli(['repair', ...local.slice(0, 2)])).out).toMatch(
      /the revocation index was missing; publ/,
    );
    expect((await runCli(['status', ...local])).code).toBe(0);
    expect(
      (await runCli(['authorize', '--cert', file('client.pem', pemOf(chain.client)), ...local.slice(0, 2)]))
        .code,
    ).toBe(1);
  });

  it('documents its exit status in --help', async () => {
    const help = await runCli(['status', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(
      /Exit status:\n {2}0 {2}every domain serves the latest version\n {2}1 {2}.*no local endpoint has run/,
    );
  });
});
