// Bundles each Lambda handler (functions/<name>/handler.ts) into dist/functions/<name>/index.mjs:
// ESM, minified, Node 22 (the nodejs22.x runtime), the AWS SDK included so its version is pinned.
// The CDK construct bundles the same entries with NodejsFunction (local esbuild, never Docker).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export const bundleOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
};

export const handlers = () =>
  readdirSync('functions').filter((name) => {
    try {
      return statSync(join('functions', name, 'handler.ts')).isFile();
    } catch {
      return false;
    }
  });

export const buildFunctions = async (outdir = 'dist/functions') => {
  const out = {};
  for (const name of handlers()) {
    const outfile = join(outdir, name, 'index.mjs');
    await build({ ...bundleOptions, entryPoints: [join('functions', name, 'handler.ts')], outfile });
    out[name] = outfile;
  }
  return out;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const built = await buildFunctions();
  for (const [name, file] of Object.entries(built))
    console.log(`${name}: ${file} (${statSync(file).size} bytes)`);
}
