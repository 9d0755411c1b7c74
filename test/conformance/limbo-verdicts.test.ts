import { expect, it } from 'vitest';
import { diagnoseVerdict, loadLimbo } from './limbo.js';

/**
 * diagnose's full answer on every x509-limbo case that has a fixed validation time: verdict, each
 * reason and warning with its message, and the path length. limbo.test.ts says whether the
 * verdicts are right (against OpenSSL); this file says when any of them changes, down to a message,
 * so a change to path validation is always a reviewed diff (`npx vitest run -u` after checking).
 */
it('gives the same answer on each fixed-time x509-limbo case as when it was last reviewed', async () => {
  const answers: Record<string, unknown> = {};
  for (const c of loadLimbo()) {
    if (!c.validation_time) continue;
    const r = diagnoseVerdict(c);
    answers[c.id] = r
      ? {
          verdict: r.verdict,
          reasons: r.reasons.map((x) => `${x.code}: ${x.message}`),
          warnings: r.warnings.map((x) => `${x.code}: ${x.message}`),
          path: r.path.length,
        }
      : 'unreadable';
  }
  expect(Object.keys(answers).length).toBe(119);
  await expect(`${JSON.stringify(answers, null, 1)}\n`).toMatchFileSnapshot('./corpus/limbo-verdicts.json');
});
