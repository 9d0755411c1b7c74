// Builds the trustroll CLI into one ESM file (dist/trustroll.mjs). Runs on `npm ci` (prepare) so
// that `npx trustroll` works right after install; esbuild takes well under a second.
// The files are written beside their place and renamed into it, so a CLI started while a build
// runs (the e2e tests build in several processes) reads the old bundle or the new, never half of one.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

const result = await build({
  entryPoints: ['cli/main.ts'],
  outfile: 'dist/trustroll.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
  // CommonJS dependencies inside an ESM bundle need a require of their own.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}
