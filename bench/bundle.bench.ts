import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions } from '../infra/lambda-bundling.js';
import { buildFunctions } from '../scripts/build-functions.js';
import { DOMAIN_KINDS } from '../shared/adapters/aws/domains.js';
import { note, report } from './report.js';

const ENV = {
  TRUSTROLL_BUCKET: 'bench-bucket',
  TRUSTROLL_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:bench',
  TRUSTROLL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench.fifo',
  AWS_REGION: 'us-east-1',
  // The rollout function reads its targets as it starts (one REST domain here).
  TRUSTROLL_TARGETS: JSON.stringify({
    waves: ['all'],
    targets: [{ id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'all' }],
  }),
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'y',
};

/** Time (ms) a fresh node process takes to import a bundle (parse, compile and module evaluation). */
const importOnce = (file: string, domains: string): number => {
  {
    const r = spawnSync(
      'node',
      [
        '--input-type=module',
        '-e',
        `const t = performance.now(); await import(${JSON.stringify(`file://${resolve(file)}`)}); console.log(performance.now() - t);`,
      ],
      { encoding: 'utf8', env: { ...process.env, ...ENV, TRUSTROLL_DOMAINS: domains } },
    );
    if (r.status !== 0)
      // The error's lines, not the minified source line Node prints above them.
      throw new Error(
        `importing ${file} failed: ${r.stderr
          .split('\n')
          .filter((line) => line.length < 400)
          .join('\n')
          .trim()}`,
      );
    return Number(r.stdout.trim().split('\n').at(-1));
  }
};

/**
 * Medians of cold imports of a bundle and of the bare baseline, measured alternately so that
 * drift in the machine's load hits both the same way.
 */
const coldImports = (
  file: string,
  bare: string,
  domains: string,
  runs = 15,
): { ms: number; bareMs: number } => {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(importOnce(file, domains));
    b.push(importOnce(bare, domains));
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { ms: median(a), bareMs: median(b) };
};

export const bundleBench = async (): Promise<void> => {
  note(
    '# Lambda bundles (issue 4): minified size and cold import time vs. a bare handler with the same SDK clients',
  );
  note(
    '  (import time = fresh node process importing the bundle; median of 15, alternating with the bare one)',
  );
  note(
    '  bundle.<fn>: as the construct deploys it for a REST domain (no apigatewayv2 client); .http: for an HTTP API' +
      ' domain; .all-apis: npm run build:functions (both clients), a REST and an HTTP API domain configured',
  );
  note(
    '  bare: S3 + SNS + SQS + the API Gateway client of the kind (four clients); bare.all-apis: both API Gateway clients (five)',
  );
  const outdir = join('.bench-cache', 'functions');
  const variants = [
    { suffix: '', apis: ['REST'] as const, domains: 'api.example.com:REST' },
    { suffix: '.http', apis: ['HTTP'] as const, domains: 'mtls.example.com:HTTP' },
    {
      suffix: '.all-apis',
      apis: DOMAIN_KINDS,
      domains: 'api.example.com:REST,mtls.example.com:HTTP',
    },
  ];
  for (const v of variants) {
    const bare = join(outdir, `bare${v.suffix}`, 'index.mjs');
    await build({ ...esbuildOptions(v.apis), entryPoints: ['bench/bare-handler.ts'], outfile: bare });
    const bareBytes = statSync(bare).size;
    report({ name: `bundle.bare${v.suffix}.size`, value: bareBytes / 1024, unit: 'KiB' });
    const built = await buildFunctions(join(outdir, v.apis.join('-')), v.apis);
    for (const [name, file] of Object.entries(built)) {
      // The authorizer carries the S3 client only: measured against its own baseline (authorizer.bench.ts).
      if (name === 'authorizer') continue;
      const bytes = statSync(file).size;
      report({
        name: `bundle.${name}${v.suffix}.size`,
        value: bytes / 1024,
        unit: 'KiB',
        floor: bareBytes / 1024,
        ratio: bytes / bareBytes,
      });
      const { ms, bareMs } = coldImports(file, bare, v.domains);
      report({
        name: `bundle.${name}${v.suffix}.cold-import`,
        value: ms,
        unit: 'ms',
        floor: bareMs,
        ratio: ms / bareMs,
        target: '<= 1.3',
      });
    }
  }
};
