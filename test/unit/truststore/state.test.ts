import { beforeAll, describe, expect, it } from 'vitest';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { loadState } from '../../../shared/pipeline/state-store.js';
import { toPem } from '../../../shared/pki/certificate.js';
import { KEYS, parseState, serializeState } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

type Doc = Record<string, unknown> & {
  entries: Record<string, unknown>[];
  history: Record<string, unknown>[];
  processed: Record<string, unknown>;
};

/** A state as trustroll writes it: two partners ingested, so two revisions and four entries. */
let written: string;
let otherPem: string;
beforeAll(async () => {
  const store = new MemoryStore();
  const deps = {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(NOW.getTime()),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  };
  const other = await partnerChain('Other');
  otherPem = toPem(other.root.der);
  for (const partner of ['Acme', 'Beta']) {
    const c = await partnerChain(partner);
    const { version } = await store.put(`inbox/${partner}/ca.pem`, toBytes(pemOf(c.root, c.intermediate)));
    await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version }], deps);
  }
  written = store.text(KEYS.state);
});

const doc = (): Doc => JSON.parse(written) as Doc;
const parse = (d: unknown) => parseState(toBytes(JSON.stringify(d)));

describe('parseState', () => {
  it('reads back what trustroll wrote, and a state whose revisions lack a SHA-256 (an older writer)', () => {
    expect(parse(doc()).revision).toBe(2);
    const older = doc();
    for (const r of older.history) delete r.sha256;
    expect(parse(older).history).toHaveLength(2);
    // Fields it does not read are let through (a newer writer may add some).
    expect(parse({ ...doc(), note: 'by a newer trustroll' }).revision).toBe(2);
  });

  const edits: [string, (d: Doc) => void, RegExp][] = [
    [
      'history deleted',
      (d) => Reflect.deleteProperty(d, 'history'),
      /^history: expected a list, found nothing$/,
    ],
    [
      'processed set to null',
      (d) => (d.processed = null as never),
      /^processed: expected an object, found null$/,
    ],
    [
      'an entry set to null',
      (d) => (d.entries[1] = null as never),
      /^entries\[1\]: expected an object, found null$/,
    ],
    [
      'revision as a string',
      (d) => (d.revision = '3'),
      /^revision: expected a whole number of at least 0, found "3"$/,
    ],
    [
      'a revision behind its history',
      (d) => (d.revision = 1),
      /^history\[1\]\.revision: 2 is ahead of the state's revision 1$/,
    ],
    [
      'history out of order',
      (d) => d.history.reverse(),
      /^history\[1\]\.revision: 1 does not come after revision 2$/,
    ],
    [
      "an entry's PEM replaced by another certificate",
      (d) => (d.entries[2]!.pem = otherPem),
      /^entries\[2\]\.pem: not the certificate of the entry's fingerprint [0-9a-f]{16}… \(it holds [0-9a-f]{16}…\)$/,
    ],
    [
      "an entry's PEM with a stray character",
      (d) => (d.entries[0]!.pem = String(d.entries[0]!.pem).replace('\n', '\n*')),
      /^entries\[0\]\.pem: not one certificate in the PEM form trustroll writes$/,
    ],
    [
      'an entry listed twice',
      (d) => d.entries.push(d.entries[0]!),
      /^entries\[4\]: the same CA .* as entries\[0\]$/,
    ],
    [
      'an entry removed without a revision',
      (d) => d.entries.pop(),
      /^entries: not the CA set revision 2 was committed with \(they render to SHA-256 [0-9a-f]{16}…, history records [0-9a-f]{16}…\)$/,
    ],
    [
      "an entry's expiry edited (a later date than its certificate's)",
      (d) => (d.entries[1]!.notAfter = '2099-01-01T00:00:00.000Z'),
      /^entries\[1\]\.notAfter: "2099-01-01T00:00:00\.000Z" is not what the entry's certificate says \("20\d\d-/,
    ],
    [
      "an entry's subject edited",
      (d) => {
        d.entries[0]!.subject = 'CN=Someone Else';
      },
      /^entries\[0\]\.subject: "CN=Someone Else" is not what the entry's certificate says/,
    ],
    [
      "an entry's issuer key edited",
      (d) => (d.entries[3]!.issuerKey = 'x'),
      /^entries\[3\]\.issuerKey: "x" is not what the entry's certificate says/,
    ],
    [
      'a date that is not one',
      (d) => (d.entries[0]!.notAfter = 'soon'),
      /^entries\[0\]\.notAfter: expected a date/,
    ],
    [
      'an unknown outcome',
      (d) => ((Object.values(d.processed)[0]! as { outcome: string }).outcome = 'maybe'),
      /^processed\[".*"\]\.outcome: expected "accepted", "rejected" or "private-key", found "maybe"$/,
    ],
    ['not a state at all', (d) => delete d.schema, /^state document is not a trustroll state \(schema 1\)$/],
  ];
  it.each(edits)('refuses a state edited by hand (%s), naming the field', (_, edit, message) => {
    const d = doc();
    edit(d);
    expect(() => parse(d)).toThrow(message);
  });

  it('is refused by loadState as damage, with the key, its version and the field', async () => {
    const store = new MemoryStore();
    const d = doc();
    delete (d as Partial<Doc>).history;
    const { version } = await store.put(KEYS.state, serializeState(d as never));
    await expect(loadState(store)).rejects.toMatchObject({
      name: 'DamagedStoreError',
      message: expect.stringMatching(
        new RegExp(
          `^state/truststore\\.json \\(version ${version}\\) cannot be read: history: expected a list, found nothing\\. .*trustroll repair`,
        ),
      ),
    });
  });
});
