import { describe, expect, it } from 'vitest';
import type { Refusal } from '../../../shared/refusals/explain.js';
import {
  MAX_RECENT,
  RECENT_KEY,
  recentRefusalGroups,
  recordRecentRefusals,
} from '../../../shared/refusals/recent.js';
import { FakeClock, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';

const DAY = 86_400_000;

const refusal = (id: string, at: Date, over: Partial<Refusal> = {}): Refusal => ({
  requestId: id,
  time: at.toISOString(),
  subject: `CN=${id}.example`,
  partner: 'acme',
  code: 'expired',
  message: 'The certificate expired: issue a new one.',
  ...over,
});

describe('the recent refusals the published report shows', () => {
  it('keeps the last 30 days, the newest first when over the bound, and each request once', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const deps = { store, log: memoryLog(), clock };
    const now = clock.now();
    // None recorded yet: the report says nothing about refusals (they may not be watched at all).
    expect(await recentRefusalGroups(store, memoryLog(), now)).toBeUndefined();

    await recordRecentRefusals(deps, [
      refusal('old', new Date(now.getTime() - 31 * DAY)),
      refusal('week', new Date(now.getTime() - 7 * DAY)),
      refusal('today', now, { partner: 'beta', code: 'issuer-unknown' }),
    ]);
    // The same request delivered again, and one more.
    await recordRecentRefusals(deps, [refusal('today', now, { partner: 'beta', code: 'issuer-unknown' })]);
    const held = JSON.parse(new TextDecoder().decode((await store.get(RECENT_KEY)).body)).refusals;
    expect(held.map((r: Refusal) => r.requestId)).toEqual(['today', 'week']);

    const report = await recentRefusalGroups(store, memoryLog(), now);
    expect(report?.source).toMatch(/last 30 days/);
    expect(report?.groups.map((g) => [g.partner, g.code, g.count])).toEqual(
      expect.arrayContaining([
        ['acme', 'expired', 1],
        ['beta', 'issuer-unknown', 1],
      ]),
    );
    // Eight days on, the week-old refusal is out of the report's window.
    const later = await recentRefusalGroups(store, memoryLog(), new Date(now.getTime() + 24 * DAY));
    expect(later?.groups.map((g) => g.partner)).toEqual(['beta']);

    const many = Array.from({ length: MAX_RECENT + 50 }, (_, i) =>
      refusal(`m${i}`, new Date(now.getTime() - i * 1000)),
    );
    expect(await recordRecentRefusals(deps, many)).toBe(MAX_RECENT);
    const bounded = JSON.parse(new TextDecoder().decode((await store.get(RECENT_KEY)).body)).refusals;
    expect(bounded[0].requestId).toBe('today');
    expect(bounded.some((r: Refusal) => r.requestId === `m${MAX_RECENT + 49}`)).toBe(false);
  });

  it('starts over from a record damaged by hand, and keeps writing after a concurrent write', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const log = memoryLog();
    await store.put(RECENT_KEY, new TextEncoder().encode('{not json'));
    expect(await recordRecentRefusals({ store, log, clock }, [refusal('a', clock.now())])).toBe(1);
    expect(log.lines.some((l) => l.message === 'recent refusals unreadable, starting a new record')).toBe(
      true,
    );
    // Another writer between this writer's read and its write: read again, both kept.
    const racing = {
      ...store,
      get: store.get.bind(store),
      put: async (...args: Parameters<MemoryStore['put']>) => {
        racing.put = store.put.bind(store);
        await store.put(
          RECENT_KEY,
          new TextEncoder().encode(
            JSON.stringify({ schema: 1, refusals: [refusal('a', clock.now()), refusal('b', clock.now())] }),
          ),
        );
        return store.put(...args);
      },
    } as unknown as MemoryStore;
    expect(await recordRecentRefusals({ store: racing, log, clock }, [refusal('c', clock.now())])).toBe(3);
  });
});
