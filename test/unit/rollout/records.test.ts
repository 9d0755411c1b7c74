import { describe, expect, it } from 'vitest';
import { ledgerKey } from '../../../shared/adapters/aws/elb-trust-stores.js';
import type { Rollout } from '../../../shared/rollout/model.js';
import { latestRollout, rolloutKey } from '../../../shared/rollout/records.js';
import { MemoryStore } from '../../fakes/memory-store.js';

const record = (
  revision: number,
  version: string,
  startedAt: string,
  status: Rollout['status'] = 'succeeded',
): Rollout => ({
  schema: 1,
  id: `${revision}-${version}`,
  revision,
  version,
  startedAt,
  updatedAt: startedAt,
  status,
  wave: 0,
  waves: ['all'],
  targets: [],
  lastUpdateByAccount: {},
});

const put = (store: MemoryStore, key: string, text: string) => store.put(key, new TextEncoder().encode(text));

describe('the durable rollout records', () => {
  it('keys a record by its id, URL-encoded (an S3 version id may hold a slash)', () => {
    expect(rolloutKey('7-3/L4kq+tJ')).toBe('rollouts/7-3%2FL4kq%2BtJ.json');
  });

  it('finds the newest rollout: the highest revision, numerically, and of one revision the last started', async () => {
    const store = new MemoryStore();
    const older = record(9, 'v9', '2026-12-01T00:00:00Z');
    const newest = record(10, 'v10b', '2026-12-02T00:00:01Z', 'rolled-back');
    for (const r of [older, record(10, 'v10a', '2026-12-02T00:00:00Z'), newest])
      await put(store, rolloutKey(r.id), JSON.stringify(r));
    // The ELB ledger beside the records, and a record that does not read, are no rollouts.
    await put(
      store,
      ledgerKey('arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/a/0123456789abcdef'),
      '{"version":"x"}',
    );
    await put(store, 'rollouts/11-broken.json', '{ not json');
    expect(await latestRollout(store)).toEqual(newest);
  });

  it('finds none in a store without records', async () => {
    expect(await latestRollout(new MemoryStore())).toBeUndefined();
  });
});
