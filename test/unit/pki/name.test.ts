import { describe, expect, it } from 'vitest';
import { DerError, readTlv } from '../../../shared/pki/der.js';
import { escapeValue, parseName } from '../../../shared/pki/name.js';
import { oid, tlv } from '../../fixtures/der.js';

/**
 * Names decide which CA issued which certificate (the issuer index matches on `key`) and what
 * people read in every finding (`text`), so both are pinned here byte by byte.
 */
const bytes = (s: string, encoding: BufferEncoding = 'utf8') => new Uint8Array(Buffer.from(s, encoding));
const utf8 = (s: string) => tlv(0x0c, bytes(s));
const atv = (type: string, value: Uint8Array) => tlv(0x30, oid(type), value);
const rdn = (...atvs: Uint8Array[]) => tlv(0x31, ...atvs);
const name = (...rdns: Uint8Array[]) => readTlv(tlv(0x30, ...rdns));
const CN = '2.5.4.3';
const O = '2.5.4.10';
const C = '2.5.4.6';

describe('parseName', () => {
  it('writes the last RDN first (RFC 4514) and keys each RDN in sequence order', () => {
    const parsed = parseName(
      name(rdn(atv(C, tlv(0x13, bytes('DE')))), rdn(atv(O, utf8('Acme'))), rdn(atv(CN, utf8('Partner CA')))),
      'subject',
    );
    expect(parsed.text).toBe('CN=Partner CA,O=Acme,C=DE');
    expect(parsed.key).toBe('2.5.4.6=de/2.5.4.10=acme/2.5.4.3=partner ca');
  });

  it('lists a multi-valued RDN last value first, as OpenSSL does, and keys it sorted', () => {
    const parsed = parseName(name(rdn(atv(CN, utf8('a')), atv(O, utf8('b')))), 'subject');
    expect(parsed.text).toBe('O=b+CN=a');
    // Sorted, so the same RDN written in the other order matches.
    expect(parsed.key).toBe('2.5.4.10=b+2.5.4.3=a');
    expect(parseName(name(rdn(atv(O, utf8('b')), atv(CN, utf8('a')))), 'subject').key).toBe(parsed.key);
  });

  it('matches names that differ only in case, outer and inner whitespace and string type', () => {
    const a = parseName(name(rdn(atv(O, utf8('  Acme   Corp  ')))), 'subject');
    const b = parseName(name(rdn(atv(O, tlv(0x13, bytes('ACME CORP'))))), 'subject');
    expect(a.key).toBe('2.5.4.10=acme corp');
    expect(b.key).toBe(a.key);
    // The text keeps what was written (escaped), only the key is folded.
    expect(a.text).toBe('O=\\  Acme   Corp \\ ');
  });

  it('writes values of unknown syntax as # and the BER in hex, under the attribute name or its OID', () => {
    const known = parseName(name(rdn(atv(CN, tlv(0x02, new Uint8Array([5]))))), 'subject');
    expect(known.text).toBe('CN=#020105');
    expect(known.key).toBe('2.5.4.3=#020105');
    const unknown = parseName(name(rdn(atv('1.2.3.4', tlv(0x04, new Uint8Array([0xab]))))), 'subject');
    expect(unknown.text).toBe('1.2.3.4=#0401ab');
    expect(unknown.key).toBe('1.2.3.4=#0401ab');
    // A string under an unknown type keeps its OID as the name.
    expect(parseName(name(rdn(atv('1.2.3.4', utf8('x')))), 'subject').text).toBe('1.2.3.4=x');
  });

  it('decodes BMPString (UTF-16BE, a dangling byte dropped)', () => {
    const bmp = Buffer.concat([Buffer.from('Äb€', 'utf16le').swap16(), Buffer.from([0x00])]);
    expect(parseName(name(rdn(atv(CN, tlv(0x1e, new Uint8Array(bmp))))), 'subject').text).toBe('CN=Äb€');
  });

  it('decodes UniversalString (UTF-32BE), code points past U+10FFFF as U+FFFD, a partial one dropped', () => {
    const cps = [0x41, 0x1f600, 0x10ffff, 0x110000];
    const content = Buffer.alloc(cps.length * 4 + 3);
    for (const [i, cp] of cps.entries()) content.writeUInt32BE(cp, i * 4);
    content.fill(0x42, cps.length * 4);
    const text = parseName(name(rdn(atv(CN, tlv(0x1c, new Uint8Array(content))))), 'subject').text;
    expect(text).toBe(`CN=A😀${String.fromCodePoint(0x10ffff)}\ufffd`);
  });

  it('decodes T61String as Latin-1 and invalid UTF-8 as U+FFFD instead of failing', () => {
    expect(parseName(name(rdn(atv(CN, tlv(0x14, new Uint8Array([0x63, 0xe9]))))), 'subject').text).toBe(
      'CN=cé',
    );
    expect(parseName(name(rdn(atv(CN, tlv(0x0c, new Uint8Array([0x63, 0xe9]))))), 'subject').text).toBe(
      'CN=c\ufffd',
    );
  });

  it('refuses a malformed name and says which part, under the caller’s label', () => {
    const fails = (der: Uint8Array, message: string) => {
      expect(() => parseName(readTlv(der), 'issuer')).toThrow(DerError);
      expect(() => parseName(readTlv(der), 'issuer')).toThrow(message);
    };
    fails(tlv(0x31), 'issuer: expected tag 0x30, found 0x31');
    fails(tlv(0x30, tlv(0x30)), 'issuer RDN: expected tag 0x31, found 0x30');
    fails(tlv(0x30, rdn(tlv(0x31))), 'issuer attribute: expected tag 0x30, found 0x31');
    fails(
      tlv(0x30, rdn(tlv(0x30, utf8('x'), utf8('y')))),
      'issuer attribute type: expected tag 0x06, found 0x0c',
    );
    fails(tlv(0x30, rdn(tlv(0x30, oid(CN)))), 'issuer: attribute 2.5.4.3 has no value');
  });

  it('reads an empty name as empty text and key', () => {
    expect(parseName(name(), 'subject')).toEqual({ text: '', key: '' });
  });
});

describe('escapeValue (RFC 4514 §2.4)', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b+c"d\\e<f>g;h=i', 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i'],
    ['nul\u0000here', 'nul\\00here'],
    ['#hash', '\\#hash'],
    ['mid#dle', 'mid#dle'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    [' both ', '\\ both\\ '],
    [' ', '\\ '],
    ['  ', '\\ \\ '],
    ['', ''],
  ])('%j → %j', (value, escaped) => {
    expect(escapeValue(value)).toBe(escaped);
  });
});
