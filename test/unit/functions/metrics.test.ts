import { describe, expect, it } from 'vitest';
import { partnerDimension, pipelineMetrics } from '../../../functions/lib/metrics.js';

describe('partnerDimension', () => {
  it('keeps an ASCII partner name as it is and takes accents off others', () => {
    expect(partnerDimension('acme')).toBe('acme');
    expect(partnerDimension('Müller GmbH')).toBe('Muller GmbH');
    expect(partnerDimension('Société Générale')).toBe('Societe Generale');
  });

  it('replaces what has no ASCII form, never leaves the value empty, and stays under the limit', () => {
    expect(partnerDimension('株式会社')).toBe('____');
    expect(partnerDimension('a\tb\u0000c')).toBe('a_b_c');
    expect(partnerDimension('   ')).toBe('_');
    expect(partnerDimension('x'.repeat(2_000))).toHaveLength(250);
  });
});

describe('pipelineMetrics', () => {
  it("adds the construct's pipeline as a default dimension when deployed by it", () => {
    let doc = '';
    const metrics = pipelineMetrics({ TRUSTROLL_PIPELINE: 'trustroll-prod/Pipeline' });
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      doc += chunk;
      return true;
    }) as never;
    try {
      metrics.addMetric('X', 'Count', 1);
      metrics.publishStoredMetrics();
    } finally {
      process.stdout.write = write;
    }
    const emf = JSON.parse(doc.trim().split('\n').at(-1)!);
    expect(emf).toMatchObject({ service: 'trustroll', pipeline: 'trustroll-prod/Pipeline', X: 1 });
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'pipeline']]);
  });
});
