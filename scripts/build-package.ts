// What `npm pack` ships besides the CLI (prepack): the CDK construct as a library and its Lambda
// handlers prebuilt, so that a CDK app in another folder can `import { TruststorePipeline } from
// 'trustroll'` without esbuild and without our sources.
// - dist/lib/index.mjs: infra/index.ts bundled, aws-cdk-lib and constructs left to the app;
// - dist/types/: its declarations;
// - dist/lambda/<kinds>/<name>/index.mjs: each handler for each set of API Gateway kinds
//   (none, HTTP, REST, HTTP+REST), with the construct's own bundling settings.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { DomainKind } from '../shared/adapters/aws/domains.js';
import { buildFunctions } from './build-functions.js';

execFileSync('node', ['scripts/build.mjs'], { stdio: ['ignore', 2, 2] });
rmSync('dist/lib', { recursive: true, force: true });
rmSync('dist/lambda', { recursive: true, force: true });
rmSync('dist/types', { recursive: true, force: true });

await build({
  entryPoints: ['infra/index.ts'],
  outfile: 'dist/lib/index.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
  define: { __TRUSTROLL_PREBUILT__: 'true' },
  logLevel: 'warning',
});

const variants: DomainKind[][] = [[], ['HTTP'], ['REST'], ['HTTP', 'REST']];
for (const kinds of variants) await buildFunctions(join('dist', 'lambda', kinds.join('+') || 'none'), kinds);

execFileSync('npx', ['tsc', '-p', 'tsconfig.lib.json'], { stdio: ['ignore', 2, 2] });
console.error('package built: dist/lib, dist/types, dist/lambda');
