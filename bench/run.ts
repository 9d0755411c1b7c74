// `npm run bench` runs every benchmark; `npm run bench -- --json` prints JSON lines
// ({"name","value","unit","floor"?,"ratio"?}) to compare across commits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizerBench } from './authorizer.bench.js';
import { bundleBench } from './bundle.bench.js';
import { cliBench } from './cli.bench.js';
import { crlBench } from './crl.bench.js';
import { diagnoseBench } from './diagnose.bench.js';
import { hostileBench } from './hostile.bench.js';
import { ingestBench } from './ingest.bench.js';
import { lintBench } from './lint.bench.js';
import { localBench } from './local.bench.js';
import { reportBench } from './report.bench.js';
import { note } from './report.js';
import { rollBench } from './roll.bench.js';
import { rolloutBench } from './rollout.bench.js';
import { scanBench } from './scan.bench.js';

// Every temporary folder a bench makes (and the processes it starts make) goes under one, removed
// at the end: a run leaves nothing behind in the system's temporary folder.
const scratch = mkdtempSync(join(tmpdir(), 'trustroll-bench-run-'));
process.env.TMPDIR = scratch;
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

note(`trustroll bench — node ${process.version}, ${new Date().toISOString()}`);
await lintBench();
await cliBench();
await ingestBench();
await scanBench();
await reportBench();
await crlBench();
await hostileBench();
await diagnoseBench();
await localBench();
await rollBench();
await rolloutBench();
await bundleBench();
await authorizerBench();
