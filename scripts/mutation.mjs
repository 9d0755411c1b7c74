#!/usr/bin/env node
// `npm run test:mutation [-- truststore|pki] [-- --force | --mutate <file>]`: StrykerJS over the certificate core, one
// scope after the other (stryker.config.mjs), then one line per file and per scope from the JSON
// reports. Incremental: a second run only tests what changed (`--force` tests everything again).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const SCOPES = ['truststore', 'pki'];
const args = process.argv.slice(2);
// A scope is named by itself; everything else goes to Stryker (`--mutate shared/pki/name.ts`).
const asked = args.filter((a) => SCOPES.includes(a));
const scopes = asked.length > 0 ? asked : SCOPES;
const extra = args.filter((a) => !SCOPES.includes(a));

let failed = false;
for (const scope of scopes) {
  console.log(`\n=== mutation testing: shared/${scope} ===`);
  const r = spawnSync('npx', ['stryker', 'run', ...extra], {
    stdio: 'inherit',
    env: { ...process.env, TRUSTROLL_MUTATION_SCOPE: scope },
  });
  if (r.status !== 0) failed = true;
}

/** Killed and timed-out mutants over all that could be detected (static ones are ignored). */
const summary = (scope) => {
  const file = `reports/mutation/${scope}.json`;
  if (!existsSync(file)) return undefined;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const total = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, Ignored: 0 };
  const rows = [];
  for (const [name, f] of Object.entries(report.files)) {
    const c = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, Ignored: 0 };
    for (const m of f.mutants) if (m.status in c) c[m.status]++;
    for (const k of Object.keys(c)) total[k] += c[k];
    rows.push([name, c]);
  }
  return { rows, total };
};
const score = (c) => {
  const detected = c.Killed + c.Timeout;
  const all = detected + c.Survived + c.NoCoverage;
  return all === 0 ? '—' : `${((100 * detected) / all).toFixed(1)} %`;
};
const line = (name, c) =>
  `${name.padEnd(52)} ${String(c.Killed + c.Timeout).padStart(6)} ${String(c.Survived).padStart(8)} ${String(c.NoCoverage).padStart(6)} ${String(c.Ignored).padStart(7)} ${score(c).padStart(8)}`;
console.log(
  `\n${'file'.padEnd(52)} ${'killed'.padStart(6)} ${'survived'.padStart(8)} ${'no cov'.padStart(6)} ${'static'.padStart(7)} ${'score'.padStart(8)}`,
);
for (const scope of SCOPES) {
  const s = summary(scope);
  if (!s) continue;
  for (const [name, c] of s.rows) console.log(line(name, c));
  console.log(line(`shared/${scope} (all)`, s.total));
}
process.exit(failed ? 1 : 0);
