import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EndpointStatusFile } from '../../../../shared/adapters/local/endpoint-status.js';

describe('EndpointStatusFile', () => {
  it('is never read half-written while the endpoint rewrites it (trustroll status runs beside up)', async () => {
    const file = new EndpointStatusFile(
      join(mkdtempSync(join(tmpdir(), 'trustroll-status-')), 'status.json'),
    );
    const state = (n: number) => ({
      name: 'localhost',
      status: 'AVAILABLE' as const,
      truststoreVersion: String(n).padStart(6, '0'),
      // A status of some size, as with many warnings: a torn write is then easy to hit.
      warnings: Array.from({ length: 200 }, (_, i) => `warning ${i} for version ${n}`),
    });
    await file.write(state(0));
    let writing = true;
    const writer = (async () => {
      for (let n = 1; n <= 300; n++) await file.write(state(n));
      writing = false;
    })();
    const seen: string[] = [];
    const failures: string[] = [];
    while (writing) {
      try {
        seen.push((await file.describe('localhost')).truststoreVersion!);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    await writer;
    expect(failures).toEqual([]);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen).toEqual([...seen].sort());
    expect((await file.describe('localhost')).truststoreVersion).toBe('000300');
  });
});
