import { beforeAll, describe, expect, it } from 'vitest';
import { LintRefusedError } from '../../../shared/errors.js';
import { nextRevision } from '../../../shared/pipeline/revision.js';
import { publishTruststore, sha256 } from '../../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { introducedErrors, memberOfEntry } from '../../../shared/truststore/change-lint.js';
import {
  type Entry,
  emptyState,
  entryOf,
  renderState,
  type TruststoreState,
} from '../../../shared/truststore/state.js';
import { memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { type Issued, intermediate, NOW, root } from '../../fixtures/pki.js';

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
