import { beforeAll, describe, expect, it } from 'vitest';
import { LintRefusedError } from '../../../shared/errors.js';
import { nextRevision } from '../../../shared/pipeline/revision.js';
import { publishTruststore, sha256 } from '../../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import {
  assertLintClean,
  introducedErrors,
  type Member,
  memberOfCertificate,
  memberOfEntry,
} from '../../../shared/truststore/change-lint.js';
import {
  type Entry,
  emptyState,
  entryOf,
  renderState,
  type TruststoreState,
} from '../../../shared/truststore/state.js';
import { memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { days, type Issued, intermediate, NOW, root } from '../../fixtures/pki.js';

const entry = (i: Issued): Entry =>
  entryOf(parseCertificate(i.der), {
    partner: 'rot',
    upload: { key: 'inbox/rot/x.pem', version: '1' },
    addedAt: NOW.toISOString(),
    findings: [],
  });
const state = (entries: readonly Entry[]): TruststoreState => ({
  schema: 1,
  revision: 1,
  entries,
  processed: {},
  history: [],
});
const members = (entries: readonly Entry[]) => entries.map((e) => memberOfEntry(e));

let r: Entry;
let i: Entry;
let j: Entry;
let rekeyed: Entry;
let strict: Entry;
beforeAll(async () => {
  const R = await root('CN=CL Root,O=Rot', { keySlot: 'cl-r' });
  const I = await intermediate('CN=CL Issuing,O=Rot', R, { keySlot: 'cl-i', pathLen: 1 });
  const J = await intermediate('CN=CL Sub,O=Rot', I, { keySlot: 'cl-j' });
  [r, i, j] = [R, I, J].map(entry) as [Entry, Entry, Entry];
  rekeyed = entry(await root('CN=CL Root,O=Rot', { keySlot: 'cl-r2' }));
  strict = entry(await root('CN=CL Root,O=Rot', { keySlot: 'cl-r', pathLen: 0 }));
});

describe('introducedErrors', () => {
  it('names what a re-keyed root breaks below it, and what a stricter root constrains', () => {
    const broken = introducedErrors(members([r, i, j]), members([rekeyed, i, j]), { at: NOW });
    expect(broken.map((f) => [f.code, f.cert?.fingerprint])).toContainEqual([
      'signature.invalid',
      i.fingerprint,
    ]);
    const limited = introducedErrors(members([r, i, j]), members([strict, i, j]), { at: NOW });
    expect(limited.map((f) => f.code)).toContain('chain.path-length');
  });

  it('finds nothing for a change that breaks nothing, nor for what the set already had', () => {
    expect(introducedErrors(members([r, i]), members([r, i, j]), { at: NOW })).toEqual([]);
    // Expired since: the removal of an unrelated CA is not blamed for it.
    const later = new Date(Date.parse(j.notAfter) + 86_400_000);
    expect(introducedErrors(members([r, i, j]), members([r, i]), { at: later })).toEqual([]);
  });
});

describe('introducedErrors: only errors, only new ones', () => {
  it('does not count a warning the change brings (a CA added that expires soon)', async () => {
    const R = await root('CN=CL Root,O=Rot', { keySlot: 'cl-r' });
    const soon = entry(await intermediate('CN=CL Soon,O=Rot', R, { keySlot: 'cl-soon', notAfter: days(10) }));
    expect(introducedErrors(members([r, i]), members([r, i, soon]), { at: NOW, expiringDays: 30 })).toEqual(
      [],
    );
  });

  it('does not blame a root re-issued with its key for the error a CA below it already had', async () => {
    const R = await root('CN=CL6 Root', { keySlot: 'cl6-r' });
    const I = entry(await intermediate('CN=CL6 Issuing', R, { keySlot: 'cl6-i', notAfter: days(10) }));
    const again = entry(await root('CN=CL6 Root', { keySlot: 'cl6-r', serial: '6666' }));
    const at = days(11);
    // Expired either way: the set's own problem, not the change's.
    expect(introducedErrors(members([entry(R), I]), members([again, I]), { at })).toEqual([]);
    // The same CA with its root re-keyed instead: that is the change's.
    const rekeyedR = entry(await root('CN=CL6 Root', { keySlot: 'cl6-r2' }));
    expect(
      introducedErrors(members([entry(R), I]), members([rekeyedR, I]), { at }).map((f) => f.code),
    ).toEqual(['signature.invalid']);
  });

  it('follows CAs that sign each other to the end (a loop)', async () => {
    const a0 = await root('CN=CL Loop A', { keySlot: 'cl-la' });
    const b = entry(await intermediate('CN=CL Loop B', a0, { keySlot: 'cl-lb', pathLen: undefined }));
    const b0 = await intermediate('CN=CL Loop B', a0, { keySlot: 'cl-lb', pathLen: undefined });
    const a = entry(await intermediate('CN=CL Loop A', b0, { keySlot: 'cl-la', pathLen: undefined }));
    const found = introducedErrors(members([a]), members([a, b]), { at: NOW });
    expect(
      found
        .filter((f) => f.code === 'chain.no-root')
        .map((f) => f.cert?.fingerprint)
        .sort(),
    ).toEqual([a.fingerprint, b.fingerprint].sort());
  });
});

describe('nextRevision', () => {
  it('refuses to commit a CA set that fails lint because of the change, whatever path made it', () => {
    const change = (entries: Entry[], removed: Entry[]) => () =>
      nextRevision(state([r, i, j]), { entries, removed, added: [], reason: 'test', at: NOW });
    expect(change([rekeyed, i, j], [r])).toThrow(LintRefusedError);
    expect(change([rekeyed, i, j], [r])).toThrow(/fails lint: signature\.invalid \(CN=CL Issuing/);
    expect(change([i, j], [r])).toThrow(/chain\.issuer-missing/);
    expect(change([], [r, i, j])).toThrow(/truststore\.empty/);
    expect(change([r, i], [j])().revision).toBe(2);
  });
});

describe('publishTruststore', () => {
  it('refuses to publish a committed revision whose CA set fails lint because of its change', async () => {
    const store = new MemoryStore();
    const entries = [rekeyed, i, j];
    // As if written by a path that skipped the commit's check: the root swapped for a re-keyed one.
    const state: TruststoreState = {
      ...emptyState(),
      revision: 2,
      entries,
      removedEntries: [r],
      history: [
        {
          revision: 1,
          at: NOW.toISOString(),
          reason: 'seed',
          added: [r, i, j].map((e) => e.fingerprint),
          removed: [],
        },
        {
          revision: 2,
          sha256: sha256(renderState(entries)),
          at: NOW.toISOString(),
          reason: 'swap',
          added: [rekeyed.fingerprint],
          removed: [r.fingerprint],
        },
      ],
    };
    await expect(publishTruststore(store, state, memoryLog())).rejects.toThrow(
      /refusing to publish a truststore that fails lint: signature\.invalid \(CN=CL Issuing/,
    );
    expect(store.keys('truststore/')).toEqual([]);
    // The same revision without the swap is published.
    const fine = {
      ...state,
      entries: [r, i, j],
      removedEntries: [],
      history: state.history.slice(0, 1),
      revision: 1,
    };
    expect(await publishTruststore(store, fine, memoryLog())).toBeDefined();
  });
});

describe('introducedErrors on size, emptiness and members', () => {
  const sized = (e: Entry, bytes: number): Member => ({ ...memberOfEntry(e), bytes });

  it('blames a change for crossing the size limit, not for a set already over it', () => {
    const over = introducedErrors([sized(r, 500_000)], [sized(r, 500_000), sized(i, 500_001)], { at: NOW });
    expect(over).toEqual([
      {
        code: 'truststore.too-large',
        severity: 'error',
        message:
          "The truststore would be 1000 KB (1000001 bytes), over API Gateway's limit of about 1000 KB: remove unused or expired CAs.",
      },
    ]);
    expect(
      introducedErrors([sized(r, 500_000)], [sized(r, 500_000), sized(i, 500_000)], { at: NOW }),
    ).toEqual([]);
    expect(
      introducedErrors(
        [sized(r, 600_000), sized(i, 500_000)],
        [sized(r, 600_000), sized(i, 500_000), sized(j, 1)],
        {
          at: NOW,
        },
      ),
    ).toEqual([]);
  });

  it('blames a change for going over the limit from a set that was only near it (a warning)', () => {
    expect(
      introducedErrors([sized(r, 900_000)], [sized(r, 900_000), sized(i, 100_001)], { at: NOW }).map((f) => [
        f.code,
        f.severity,
      ]),
    ).toEqual([['truststore.too-large', 'error']]);
  });

  it('refuses emptying the set, and finds nothing when nothing changed', () => {
    expect(introducedErrors(members([r]), [], { at: NOW })).toEqual([
      {
        code: 'truststore.empty',
        severity: 'error',
        message:
          'The change would leave the truststore without any CA, and API Gateway refuses an empty truststore.',
      },
    ]);
    expect(introducedErrors([], [], { at: NOW })).toEqual([]);
    const later = new Date(Date.parse(r.notAfter) + 86_400_000);
    // The whole set expired, but no change: nothing is the change's doing.
    expect(introducedErrors(members([r, i]), members([r, i]), { at: later })).toEqual([]);
  });

  it('does not blame an added CA for the expired root it chains to (the set already had it)', async () => {
    const old = entry(
      await root('CN=CL Old Root', { keySlot: 'cl-old', notAfter: new Date(NOW.getTime() - 1000) }),
    );
    const below = entry(
      await intermediate('CN=CL Below Old', await root('CN=CL Old Root', { keySlot: 'cl-old' })),
    );
    const found = introducedErrors(members([old, r]), members([old, r, below]), { at: NOW });
    // The expired root is the set's own problem, reported by the scan, not by this change.
    expect(found).toEqual([]);
    // Into a set without its root, the same CA is the change's doing.
    expect(introducedErrors(members([r]), members([r, below]), { at: NOW }).map((f) => f.code)).toEqual([
      'chain.issuer-missing',
    ]);
  });

  it('reads members from entries once per cache, and sizes certificates as their PEM', () => {
    const cache = new Map();
    const m = memberOfEntry(r, cache);
    expect(m).toMatchObject({
      fingerprint: r.fingerprint,
      subjectKey: r.subjectKey,
      issuerKey: r.issuerKey,
      bytes: r.pem.length,
    });
    const first = m.load();
    expect(m.load()).toBe(first);
    expect(memberOfEntry(r, cache).load()).toBe(first);
    expect(memberOfEntry(r).load().fingerprint).toBe(r.fingerprint);
    const c = memberOfCertificate(first);
    expect(c).toMatchObject({
      fingerprint: r.fingerprint,
      subjectKey: r.subjectKey,
      issuerKey: r.issuerKey,
      bytes: r.pem.length,
    });
    expect(c.load()).toBe(first);
  });

  it('shares a certificate between the members of one cache by fingerprint, whatever entry holds it', () => {
    const cache = new Map();
    // The same entry as a parsed state holds it: another object, its certificate not parsed yet.
    const copy = JSON.parse(JSON.stringify(r)) as Entry;
    const first = memberOfEntry(r, cache).load();
    expect(memberOfEntry(copy, cache).load()).toBe(first);
    expect(memberOfEntry(JSON.parse(JSON.stringify(r)) as Entry).load()).not.toBe(first);
  });
});

describe('assertLintClean', () => {
  it('names each introduced error with its certificate, at most five, and what was refused', () => {
    expect(() => assertLintClean([r, i, j], [rekeyed, i, j], NOW)).toThrow(
      /^refusing to commit a truststore that fails lint: signature\.invalid \(CN=CL Issuing,O=Rot\): /,
    );
    expect(() => assertLintClean([r], [], NOW, 'roll back to')).toThrow(
      'refusing to roll back to a truststore that fails lint: truststore.empty: The change would leave',
    );
    expect(() => assertLintClean([r, i], [r, i, j], NOW)).not.toThrow();
  });

  it('remembers a change that passed only for the same set before it and the same time', async () => {
    const R = await root('CN=CL Root,O=Rot', { keySlot: 'cl-r' });
    const future = entry(
      await intermediate('CN=CL Future,O=Rot', R, { keySlot: 'cl-future', notBefore: days(2) }),
    );
    const after = [r, i, future];
    // Unchanged, a CA not valid yet is the set's own problem, not the change's: it passes.
    expect(() => assertLintClean([r, i, future], after, NOW)).not.toThrow();
    // From another set of the same size, at the same time: judged again.
    expect(() => assertLintClean([r, i, j], after, NOW)).toThrow(/cert\.not-yet-valid/);
    // The same set after, from a set without that CA: judged again, and refused.
    expect(() => assertLintClean([r, i], after, NOW)).toThrow(/cert\.not-yet-valid \(CN=CL Future,O=Rot\)/);
    // Three days on, the same change breaks nothing; judged at NOW again, it is refused again.
    expect(() => assertLintClean([r, i], after, days(3))).not.toThrow();
    expect(() => assertLintClean([r, i], after, NOW)).toThrow(/cert\.not-yet-valid/);
    // What passed is not judged again: a set changed in place after it passed (trustroll never
    // changes one) is how the test sees that.
    const grown = [r, i, j];
    expect(() => assertLintClean([r, i], grown, NOW)).not.toThrow();
    grown.push(rekeyed);
    expect(() => assertLintClean([r, i], grown, NOW)).not.toThrow();
    expect(() => assertLintClean([r, i], [...grown], NOW)).toThrow(/truststore\.duplicate-subject/);
  });

  it('lists no more than five errors', async () => {
    const R = await root('CN=CL Five Root', { keySlot: 'cl-5' });
    const children = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(async (n) =>
        entry(await intermediate(`CN=CL Five ${n}`, R, { keySlot: `cl-5-${n}` })),
      ),
    );
    const five = entry(R);
    const rekeyedFive = entry(await root('CN=CL Five Root', { keySlot: 'cl-5-new' }));
    let message = '';
    try {
      assertLintClean([five, ...children], [rekeyedFive, ...children], NOW);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.match(/signature\.invalid/g)).toHaveLength(5);
    expect(message).toMatch(/\.; signature\.invalid \(CN=CL Five \d\): /);
  });
});
