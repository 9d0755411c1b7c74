import { describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { issuerEntryOf } from '../../../shared/revocation/issuer-entry.js';
import { type Entry, entryOf } from '../../../shared/truststore/state.js';
import { type Issued, intermediate, leaf, NOW, root } from '../../fixtures/pki.js';

/** Which truststore CA issued a client certificate (`trustroll revoke --cert`), or why none did. */
const cert = (i: Issued): Certificate => parseCertificate(i.der);
const entry = (i: Issued, partner: string): Entry =>
  entryOf(cert(i), {
    partner,
    upload: { key: `inbox/${partner}/ca.pem`, version: '1' },
    addedAt: NOW.toISOString(),
    findings: [],
  });

describe('issuerEntryOf', () => {
  it('finds the issuing CA by name, key identifier and signature, among CAs of the same name', async () => {
    const r = await root('CN=IE Root,O=IE', { keySlot: 'ie-root' });
    const old = await intermediate('CN=IE Issuing,O=IE', r, { keySlot: 'ie-old' });
    const rekeyed = await intermediate('CN=IE Issuing,O=IE', r, { keySlot: 'ie-new' });
    const client = await leaf('CN=ie client,O=IE', rekeyed, { key: 'p256' });
    const entries = [entry(r, 'ie'), entry(old, 'ie'), entry(rekeyed, 'ie')];
    const found = issuerEntryOf(entries, cert(client));
    expect('entry' in found && found.entry.fingerprint).toBe(cert(rekeyed).fingerprint);
  });

  it('says not-held for an issuer name the truststore lacks', async () => {
    const r = await root('CN=IE Root,O=IE', { keySlot: 'ie-root' });
    const other = await root('CN=IE Other,O=IE', { keySlot: 'ie-other' });
    const client = await leaf('CN=ie stranger,O=IE', other, { key: 'p256' });
    expect(issuerEntryOf([entry(r, 'ie')], cert(client))).toEqual({ problem: 'not-held' });
  });

  it('says not-signed when a CA of that name is held but its key did not sign the certificate', async () => {
    const held = await root('CN=IE Twin,O=IE', { keySlot: 'ie-twin-held' });
    const twin = await root('CN=IE Twin,O=IE', { keySlot: 'ie-twin-other' });
    // No authority key identifier: only the signature can tell the two apart.
    const client = await leaf('CN=ie twin client,O=IE', twin, { key: 'p256', aki: false });
    const found = issuerEntryOf([entry(held, 'ie')], cert(client));
    expect(found).toMatchObject({ problem: 'not-signed', named: [{ fingerprint: cert(held).fingerprint }] });
  });
});
