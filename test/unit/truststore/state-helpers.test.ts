import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { withOrphans } from '../../../shared/truststore/orphans.js';
import {
  certificateOf,
  type Entry,
  emptyState,
  entriesBySubject,
  entryOf,
  findPublished,
  keepLast,
  latestPublished,
  parseState,
  pendingRevision,
  type Revision,
  serializeState,
  type TruststoreState,
  unpublishedNote,
} from '../../../shared/truststore/state.js';
import { sealLine, sealOf } from '../../../shared/truststore/state-shape.js';
import { NOW, root } from '../../fixtures/pki.js';

/** The small functions every command reads the state through: revisions, orphans, pruning. */
const entry = (fingerprint: string, subjectKey: string, issuerKey: string): Entry =>
  ({ fingerprint, subjectKey, issuerKey }) as Entry;
const rev = (revision: number, more: Partial<Revision> = {}): Revision =>
  ({ revision, at: 'now', reason: 'r', added: [], removed: [], ...more }) as Revision;
const state = (revision: number, history: Revision[]): TruststoreState => ({
  ...emptyState(),
  revision,
  history,
});

describe('state documents', () => {
  it('starts empty at revision 0 and writes JSON with one-space indent, its seal and a final newline', () => {
    const empty = emptyState();
    expect(empty).toEqual({ schema: 1, revision: 0, entries: [], processed: {}, history: [] });
    const text = Buffer.from(serializeState(empty)).toString('utf8');
    expect(text).toBe(
      `{\n "schema": 1,\n "revision": 0,\n "entries": [],\n "processed": {},\n "history": [],\n "entriesSeal": "${sealOf([])}",\n "signatures": ""\n}\n`,
    );
    expect(parseState(serializeState(empty))).toEqual(empty);
  });

  it('checks again when the same buffer was changed after it was read', () => {
    const bytes = Buffer.from(serializeState(emptyState()));
    expect(parseState(bytes).revision).toBe(0);
    bytes.write('"schema": 7', bytes.indexOf('"schema": 1'));
    expect(() => parseState(bytes)).toThrow('state document is not a trustroll state (schema 1)');
  });

  it('gives the same bytes the same state, checked once: bytes it wrote, and bytes it parsed', () => {
    // A state changed in place (trustroll never does) is how the test sees the check was not
    // made again.
    const written = serializeState({ ...emptyState(), revision: 0, note: 'written' } as TruststoreState);
    const made = parseState(written);
    expect(parseState(written)).toBe(made);
    (made as { schema: number }).schema = 7;
    expect(parseState(written)).toBe(made);
    const text = Buffer.from(
      '{"schema":1,"revision":0,"entries":[],"processed":{},"history":[],"note":"read"}',
    );
    const parsed = parseState(text);
    (parsed as { schema: number }).schema = 7;
    expect(parseState(new Uint8Array(text))).toBe(parsed);
    // Another document read after it: the list of recent documents holds only documents.
    expect(parseState(Buffer.from(text.toString().replace('"read"', '"other"'))).revision).toBe(0);
  });

  it('groups entries by subject, in order', () => {
    const a = entry('a', 'k1', 'k0');
    const b = entry('b', 'k2', 'k0');
    const c = entry('c', 'k1', 'k9');
    const map = entriesBySubject([a, b, c]);
    expect([...map.keys()]).toEqual(['k1', 'k2']);
    expect(map.get('k1')).toEqual([a, c]);
    expect(map.get('k2')).toEqual([b]);
  });

  it('keeps the last n records, in order', () => {
    const r = { a: 1, b: 2, c: 3 };
    expect(keepLast(r, 2)).toEqual({ b: 2, c: 3 });
    expect(Object.keys(keepLast(r, 2))).toEqual(['b', 'c']);
    expect(keepLast(r, 3)).toEqual(r);
    expect(keepLast(r, 5)).toEqual(r);
    expect(keepLast(r, 0)).toEqual({});
  });
});

describe('revisions', () => {
  const s = state(4, [
    rev(1, { version: 'v1' }),
    rev(2, { supersededBy: 3 }),
    rev(3, { version: 'v3' }),
    rev(4, { lostVersion: 'v4' }),
  ]);

  it('finds a published revision by version id or number, never an unpublished one', () => {
    expect(findPublished(s, 'v1')?.revision).toBe(1);
    expect(findPublished(s, '3')?.revision).toBe(3);
    expect(findPublished(s, 'v3')?.revision).toBe(3);
    expect(findPublished(s, '2')).toBeUndefined();
    expect(findPublished(s, '4')).toBeUndefined();
    expect(findPublished(s, 'v9')).toBeUndefined();
  });

  it('explains an unpublished revision: superseded, lost, or still to publish', () => {
    expect(unpublishedNote(s, '2')).toBe(
      'revision 2 was never published: its changes were published with revision 3 (version v3), which superseded it',
    );
    expect(unpublishedNote(s, '4')).toBe(
      'revision 4 was published as version v4, which is missing from the store (marked lost by trustroll repair)',
    );
    expect(unpublishedNote(state(2, [rev(1, { version: 'v1' }), rev(2)]), '2')).toBe(
      'revision 2 is not published yet',
    );
    expect(unpublishedNote(state(3, [rev(2, { supersededBy: 3 }), rev(3)]), '2')).toBe(
      'revision 2 was never published: its changes were published with revision 3, which superseded it',
    );
    // The revision that superseded it pruned from the history: named without a version.
    expect(unpublishedNote(state(9, [rev(2, { supersededBy: 3 }), rev(9, { version: 'v9' })]), '2')).toBe(
      'revision 2 was never published: its changes were published with revision 3, which superseded it',
    );
    expect(unpublishedNote(s, '1')).toBeUndefined();
    expect(unpublishedNote(s, '9')).toBeUndefined();
  });

  it('names the pending revision only when the latest commit has no version', () => {
    expect(pendingRevision(state(2, [rev(1, { version: 'v1' }), rev(2)]))?.revision).toBe(2);
    expect(pendingRevision(state(2, [rev(1), rev(2, { version: 'v2' })]))).toBeUndefined();
    expect(pendingRevision(state(3, [rev(1), rev(2)]))).toBeUndefined();
    expect(pendingRevision(emptyState())).toBeUndefined();
    // The latest of three, not the second.
    expect(
      pendingRevision(state(3, [rev(1, { version: 'v1' }), rev(2, { version: 'v2' }), rev(3)]))?.revision,
    ).toBe(3);
  });

  it('finds the latest published revision', () => {
    expect(latestPublished(s)?.revision).toBe(3);
    expect(latestPublished(state(1, [rev(1)]))).toBeUndefined();
    // The history itself is left in order.
    expect(s.history.map((r) => r.revision)).toEqual([1, 2, 3, 4]);
  });
});

describe('withOrphans', () => {
  const root = entry('root', 'R', 'R');
  const mid = entry('mid', 'M', 'R');
  const low = entry('low', 'L', 'M');
  const other = entry('other', 'O', 'O');
  const all = [root, mid, low, other];

  it('removes nothing without a seed', () => {
    expect(withOrphans(all, new Set())).toEqual([]);
  });

  it('takes every CA below a removed one, however deep, in entry order', () => {
    expect(withOrphans(all, new Set(['root']))).toEqual([root, mid, low]);
    expect(withOrphans([low, mid, root, other], new Set(['root']))).toEqual([low, mid, root]);
    expect(withOrphans(all, new Set(['mid']))).toEqual([mid, low]);
    expect(withOrphans(all, new Set(['low']))).toEqual([low]);
  });

  it('keeps a CA whose issuer name another entry still carries', () => {
    const twin = entry('twin', 'M', 'R');
    expect(withOrphans([...all, twin], new Set(['mid']))).toEqual([mid]);
  });
});

describe('state documents with entries', () => {
  let a: Entry;
  let b: Entry;
  beforeAll(async () => {
    const made = async (cn: string) =>
      entryOf(parseCertificate((await root(cn, { keySlot: 'state-doc' })).der), {
        partner: 'p',
        upload: { key: 'inbox/p/ca.pem', version: '1' },
        addedAt: NOW.toISOString(),
        findings: [{ code: 'cert.expiring', severity: 'warning', message: 'soon' }],
      });
    a = await made('CN=State Doc A');
    b = await made('CN=State Doc B');
  });

  it('writes exactly JSON.stringify(state with its seal, null, 1) and a newline, entries kept from the last write', () => {
    const s: TruststoreState = { ...emptyState(), revision: 1, entries: [a, b] };
    // Both are roots: whether their signatures were verified in this process (by another test)
    // decides the answers written; the seal is the seal of those.
    const written = (state: TruststoreState) => Buffer.from(serializeState(state)).toString('utf8');
    const sealed = (entries: Entry[], text: string) => {
      const { signatures } = JSON.parse(text) as { signatures: string };
      expect(signatures).toMatch(/^(\d[>!]\d( \d[>!]\d)*)?$/);
      return { ...s, entries, entriesSeal: sealOf(entries.map(sealLine), [], signatures), signatures };
    };
    const text = written(s);
    const expected = `${JSON.stringify(sealed([a, b], text), null, 1)}\n`;
    expect(text).toBe(expected);
    // Written again (the entries' JSON now kept), the same bytes; the seal follows the order.
    const reversed = written({ ...s, entries: [b, a] });
    expect(reversed).toBe(`${JSON.stringify(sealed([b, a], reversed), null, 1)}\n`);
    expect(sealOf([a, b].map(sealLine))).not.toBe(sealOf([b, a].map(sealLine)));
    // A seal read with a state is never written again as it was: it is the seal of what is written.
    const stale = { ...s, entriesSeal: 'f'.repeat(64) } as TruststoreState;
    expect(Buffer.from(serializeState(stale)).toString('utf8')).toBe(expected);
  });

  it("parses an entry's certificate once", () => {
    const copy = JSON.parse(JSON.stringify(a)) as Entry;
    const cert = certificateOf(copy);
    expect(cert.fingerprint).toBe(a.fingerprint);
    expect(certificateOf(copy)).toBe(cert);
  });
});
