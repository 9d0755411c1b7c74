// Builds the trustroll CLI into dist/trustroll.mjs and the chunks it imports per command
// (dist/chunks/). Runs on `npm ci` (prepare) so that `npx trustroll` works right after install;
// esbuild takes well under a second.
// The files are written beside their place and renamed into it, so a CLI started while a build
// runs (the e2e tests build in several processes) reads the old bundle or the new, never half of one.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * commander requires node:child_process when it loads, to run executable sub-commands, which
 * trustroll has none of; loading it (with net, dgram and the streams) costs a fifth of Node's own
 * start-up. commander gets it on first use instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents:
        "let real; module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });",
      loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: { trustroll: 'cli/main.ts' },
  outdir: 'dist',
  // Each command loads only what it uses: the AWS SDK, the certificate builder and the pipeline
  // are chunks imported when a command needs them, not parsed by `--help` or `lint`.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  plugins: [lazyChildProcess],
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
// Chunks are named by their content, so builds of the same sources write the same files; the entry
// is written last, so a CLI started meanwhile imports either the old entry and its chunks or the new.
const entry = resolve('dist/trustroll.mjs');
const files = [...result.outputFiles].sort(
  (a, b) => Number(a.path.startsWith(entry)) - Number(b.path.startsWith(entry)),
);
for (const file of files) {
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}
// Chunks of earlier builds (other sources) are removed once they are a minute old: no process
// started from their entry is still loading them, and `npm pack` ships only this build's.
const written = new Set(files.map((f) => f.path));
for (const name of readdirSync('dist/chunks')) {
  const path = resolve(join('dist/chunks', name));
  if (!written.has(path) && Date.now() - statSync(path).mtimeMs > 60_000) rmSync(path, { force: true });
}
