import { describe, expect, it } from 'vitest';
import { diagnoseVerdict, loadLimbo, opensslVerdict } from './limbo.js';

/**
 * The yardstick for `trustroll diagnose`: x509-limbo's client-certificate subset. Prints how often
 * diagnose's verdict equals `openssl verify`'s, and how often diagnose warns where the strict
 * expectation is FAILURE but OpenSSL accepts.
 */
describe('x509-limbo conformance of diagnose', () => {
  it('agrees with openssl verify and warns where OpenSSL is lenient', () => {
    const cases = loadLimbo();
    let agree = 0;
    let lenient = 0;
    let warned = 0;
    const disagreements: string[] = [];
    const silent: string[] = [];
    for (const c of cases) {
      const openssl = opensslVerdict(c);
      const ours = diagnoseVerdict(c);
      const accepted = ours?.verdict === 'accept';
      if (accepted === openssl.ok) agree++;
      else
        disagreements.push(
          `${c.id}: openssl ${openssl.ok ? 'accepts' : `rejects (${openssl.output.split('\n').find((l) => l.startsWith('error')) ?? ''})`}, diagnose ${ours?.verdict ?? 'unreadable'} ${ours?.reasons.map((r) => r.code).join(',') ?? ''}`,
        );
      if (c.expected_result === 'FAILURE' && openssl.ok) {
        lenient++;
        if (ours && ours.warnings.length > 0) warned++;
        else silent.push(c.id);
      }
    }
    const agreement = agree / cases.length;
    const warnRate = warned / lenient;
    console.log(
      `x509-limbo: diagnose = openssl verify on ${agree}/${cases.length} cases (${(agreement * 100).toFixed(1)}%); ` +
        `warns on ${warned}/${lenient} cases OpenSSL accepts against the strict expectation (${(warnRate * 100).toFixed(1)}%)`,
    );
    if (disagreements.length > 0) console.log(`disagreements:\n  ${disagreements.join('\n  ')}`);
    if (silent.length > 0) console.log(`no warning where OpenSSL is lenient:\n  ${silent.join('\n  ')}`);
    expect(cases.length).toBe(199);
    // Targets of the diagnose issue: ≥ 98% agreement with OpenSSL, ≥ 90% warnings where it is lenient.
    expect(agreement).toBeGreaterThanOrEqual(0.98);
    expect(warnRate).toBeGreaterThanOrEqual(0.9);
  });
});
