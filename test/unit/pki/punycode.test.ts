import { domainToUnicode } from 'node:url';
import { describe, expect, it } from 'vitest';
import { a2ulabel, punycodeDecode } from '../../../shared/pki/punycode.js';

/** Bytes of a UTF-8 string, one char per byte, as a2ulabel returns them. */
const bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

describe('OpenSSL’s a2ulabel (Punycode), ported', () => {
  it('decodes A-labels as Node’s IDNA does, and keeps the other labels', () => {
    for (const name of [
      'xn--bcher-kva.example',
      'a.xn--mnchen-3ya.de',
      'xn--fiqs8s',
      'xn--80ak6aa92e.com',
      'xn--ls8h.la',
      'xn--p1ai',
    ])
      expect(a2ulabel(name, 256), name).toBe(bytes(domainToUnicode(name)));
    expect(a2ulabel('Example.COM', 256)).toBe('Example.COM');
    // Only the lowercase prefix marks an A-label.
    expect(a2ulabel('XN--bcher-kva.example', 256)).toBe('XN--bcher-kva.example');
    expect(a2ulabel('.example.com', 255)).toBe('.example.com');
  });

  it('fails where OpenSSL fails: no Punycode, or no room', () => {
    expect(punycodeDecode('-')).toBeUndefined();
    expect(punycodeDecode('ab!')).toBeUndefined();
    expect(punycodeDecode('99999999999')).toBeUndefined();
    expect(punycodeDecode('é-kva')).toBeUndefined();
    expect(a2ulabel('xn---.example', 256)).toBeUndefined();
    const long = 'a'.repeat(255);
    expect(a2ulabel(long, 256)).toBe(long);
    expect(a2ulabel(`${long}b`, 256)).toBeUndefined();
    expect(a2ulabel(long, 255)).toBeUndefined();
  });
});
