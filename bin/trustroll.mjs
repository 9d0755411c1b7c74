#!/usr/bin/env node
// Launcher: the CLI is built into dist/ by `npm ci` / `npm install` (the prepare script).
try {
  await import('../dist/trustroll.mjs');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('trustroll.mjs')) {
    console.error(
      'trustroll is not built yet: run `npm install` (or `npm run build`) in the project folder.',
    );
    process.exit(2);
  }
  throw error;
}
