import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readInput } from '../../../shared/pki/read.js';
import { lintInputs } from '../../../shared/truststore/lint.js';

/** Debian's ca-certificates bundle: about 140 real roots, the messiest real-world input at hand. */
const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

describe("lint of the operating system's CA bundle", () => {
  it('is on this machine (.ci/run installs ca-certificates)', () => {
    expect(existsSync(BUNDLE)).toBe(true);
  });

  it('reads every certificate openssl counts, with no input finding', () => {
    const bytes = new Uint8Array(readFileSync(BUNDLE));
    const counted = Number(
      /Total found: (\d+)/.exec(
        execFileSync('openssl', ['storeutl', '-noout', '-certs', BUNDLE], { encoding: 'utf8' }),
      )?.[1],
    );
    expect(counted).toBeGreaterThan(100);
    const read = readInput({ name: BUNDLE, bytes });
    expect(read.certificates).toHaveLength(counted);
    const result = lintInputs([{ name: BUNDLE, bytes }]);
    expect(result.findings.filter((f) => f.code.startsWith('input.'))).toEqual([]);
    expect(result.findings.filter((f) => f.code === 'rule.failed')).toEqual([]);
  });

  it('finds every root self-signed, so no chain finding', () => {
    const result = lintInputs([{ name: BUNDLE, bytes: new Uint8Array(readFileSync(BUNDLE)) }]);
    expect(
      result.findings.filter((f) => f.code.startsWith('chain.') || f.code === 'signature.invalid'),
    ).toEqual([]);
  });
});
