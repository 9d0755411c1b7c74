// Bundles each Lambda handler (functions/<name>/handler.ts) into dist/functions/<name>/index.mjs
// with the settings of the CDK construct (infra/lambda-bundling.ts): ESM, minified, Node 22 (the
// nodejs22.x runtime), the AWS SDK included so its version is pinned.
// `--apis REST`, `--apis HTTP` or `--apis REST,HTTP` (default) chooses the API Gateway clients
// carried, as the construct does from the domains it configures.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions } from '../infra/lambda-bundling.js';
import { DOMAIN_KINDS, type DomainKind, isDomainKind } from '../shared/adapters/aws/domains.js';

export const handlers = (): string[] =>
  readdirSync('functions').filter((name) => {
    try {
      return statSync(join('functions', name, 'handler.ts')).isFile();
    } catch {
      return false;
    }
  });

/** Builds every handler into `<outdir>/<name>/index.mjs`; returns the files by handler name. */
export const buildFunctions = async (
  outdir = 'dist/functions',
  apis: readonly DomainKind[] = DOMAIN_KINDS,
): Promise<Record<string, string>> => {
  const out: Record<string, string> = {};
  for (const name of handlers()) {
    const outfile = join(outdir, name, 'index.mjs');
    await build({ ...esbuildOptions(apis), entryPoints: [join('functions', name, 'handler.ts')], outfile });
    out[name] = outfile;
  }
  return out;
};

const parseApis = (arg: string | undefined): DomainKind[] => {
  const kinds = (arg ?? DOMAIN_KINDS.join(',')).split(',').map((k) => k.trim().toUpperCase());
  const bad = kinds.find((k) => !isDomainKind(k));
  if (bad !== undefined) {
    console.error(`--apis: "${bad}" is not REST or HTTP (for example --apis REST,HTTP)`);
    process.exit(2);
  }
  return kinds.filter(isDomainKind);
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--apis');
  const built = await buildFunctions('dist/functions', parseApis(i > 0 ? process.argv[i + 1] : undefined));
  for (const [name, file] of Object.entries(built))
    console.log(`${name}: ${file} (${statSync(file).size} bytes)`);
}
