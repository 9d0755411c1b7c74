import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { partnerChain, pemOf } from '../../shared/pki/builder.js';

/**
 * trustroll as people install it: `npm pack`, then `npm install -g` of the tarball (in a scratch
 * prefix), and a CDK app in another folder importing the construct from the installed package.
 * The package has no dependencies (the CLI, the construct and the Lambda handlers are bundled), so
 * both installs work offline.
 */
const repo = resolve('.');
let dir: string;
let tarball: string;
const sh = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trustroll-package-'));
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', dir], repo)) as {
    filename: string;
  }[];
  tarball = join(dir, packed[0]!.filename);
}, 300_000);

describe('the packed package', () => {
  it('installs globally as a CLI that works from anywhere', async () => {
    const prefix = join(dir, 'prefix');
    sh('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], dir);
    const bin = join(prefix, 'bin', 'trustroll');
    expect(sh(bin, ['--version'], dir).trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    const chain = await partnerChain('Installed');
    const elsewhere = mkdtempSync(join(tmpdir(), 'trustroll-anywhere-'));
    writeFileSync(join(elsewhere, 'ca.pem'), pemOf(chain.root, chain.intermediate));
    expect(sh(bin, ['lint', 'ca.pem'], elsewhere)).toMatch(/OK: 2 certificates/);
  }, 300_000);

  it('gives a CDK app in another folder the construct, with its Lambda handlers prebuilt', () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], app);
    // The app's own CDK libraries (the package's optional peers), taken from this checkout.
    for (const lib of ['aws-cdk-lib', 'constructs'])
      symlinkSync(join(repo, 'node_modules', lib), join(app, 'node_modules', lib), 'dir');
    writeFileSync(
      join(app, 'app.mjs'),
      [
        "import { App, Stack } from 'aws-cdk-lib';",
        "import { TruststorePipeline, TRUSTSTORE_KEY } from 'trustroll';",
        "const app = new App({ outdir: 'cdk.out' });",
        "const stack = new Stack(app, 'Consumer');",
        "new TruststorePipeline(stack, 'Pipeline', { domains: [{ name: 'api.example.com' }, { name: 'h.example.com', type: 'HTTP' }] });",
        'app.synth();',
        'console.log(TRUSTSTORE_KEY);',
      ].join('\n'),
    );
    expect(sh('node', ['app.mjs'], app).trim()).toBe('truststore/truststore.pem');
    const template = JSON.parse(readFileSync(join(app, 'cdk.out', 'Consumer.template.json'), 'utf8'));
    const resources = template.Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >;
    const ours = Object.entries(resources)
      .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && /^Pipeline(Ingest|ExpiryScan)/.test(id))
      .map(
        ([, r]) =>
          r.Properties as {
            Runtime: string;
            Architectures: string[];
            Handler: string;
            Code: { S3Key: string };
          },
      );
    expect(ours.map((f) => [f.Runtime, f.Architectures, f.Handler])).toEqual([
      ['nodejs22.x', ['arm64'], 'index.handler'],
      ['nodejs22.x', ['arm64'], 'index.handler'],
    ]);
    // Each is the prebuilt bundle for both API kinds, as the construct builds it from the sources.
    for (const f of ours) {
      const bundle = readFileSync(
        join(app, 'cdk.out', `asset.${f.Code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
        'utf8',
      );
      expect(bundle).toContain('"com.amazonaws.apigateway"');
      expect(bundle).toContain('"com.amazonaws.apigatewayv2"');
    }
  }, 300_000);

  it('carries declarations a TypeScript CDK app type-checks against', () => {
    const app = join(dir, 'app');
    writeFileSync(
      join(app, 'typed.ts'),
      [
        "import { Stack } from 'aws-cdk-lib';",
        "import { TruststorePipeline, type TruststorePipelineProps } from 'trustroll';",
        "const props: TruststorePipelineProps = { domains: [{ name: 'api.example.com', type: 'REST' }] };",
        "export const make = (s: Stack) => new TruststorePipeline(s, 'P', props).bucket.bucketName;",
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['typed.ts'],
      }),
    );
    sh('node', [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app);
  }, 120_000);
});
