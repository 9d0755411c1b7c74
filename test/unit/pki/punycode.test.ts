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

describe('punycodeDecode against RFC 3492 and its bounds', () => {
  /** The RFC's sample labels (section 7.1), capitals included: long runs of non-ASCII code points. */
  const SAMPLES = [
    'egbpdaj6bu4bxfgehfvwxn',
    'ihqwcrb4cv8a8dqg056pqjye',
    'Proprostnemluvesky-uyb24dma41a',
    '4dbcagdahymbxekheh6e0a7fei0b',
    'i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd',
    'n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa',
    '989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c',
    'b1abfaaepdrnnbgefbaDotcwatmq2g4l',
    'PorqunopuedensimplementehablarenEspaol-fmd56a',
    'TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g',
    '3B-ww4c5e180e575a65lsy2b',
    '-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n',
    'Hello-Another-Way--fc4qua05auwb3674vfr0b',
    '2-u9tlzr9756bt3uc0v',
    'MajiKoi5-783gue6qz075azm5e',
    'de-jg4avhby1noc0d',
    'd9juau41awczczp',
  ];
  /** The code points of the RFC's decoding (Node's punycode module implements RFC 3492). */
  const reference = async (label: string) => {
    const { decode } = (await import('node:punycode')).default;
    return [...decode(label)].map((c) => c.codePointAt(0));
  };

  it('decodes every sample of RFC 3492 as the RFC does', async () => {
    for (const label of SAMPLES) expect(punycodeDecode(label), label).toEqual(await reference(label));
  });

  it('reads digits in capitals as in lower case, and no byte between 9 and A or past z as a digit', () => {
    expect(punycodeDecode('D9JUAU41AWCZCZP')).toEqual(punycodeDecode('d9juau41awczczp'));
    expect(punycodeDecode('A')).toEqual([0x80]);
    expect(punycodeDecode('Z')).toBeUndefined(); // 25 ≥ its threshold: the integer goes on, and ends
    expect(punycodeDecode('ZA')).toEqual(punycodeDecode('za'));
    for (const c of [':', '@', '[', '`', '{']) {
      expect(punycodeDecode(`a${c}`), c).toBeUndefined();
      // Read as a digit, it would begin an integer that the `a` after it ends.
      expect(punycodeDecode(`${c}a`), c).toBeUndefined();
    }
  });

  it('takes basic code points below 0x80 only, 512 of them at most, and decodes to 512 code points at most', () => {
    expect(punycodeDecode('\x7f-')).toEqual([0x7f]);
    expect(punycodeDecode('\x80-')).toBeUndefined();
    expect(punycodeDecode(`${'a'.repeat(512)}-`)).toHaveLength(512);
    expect(punycodeDecode(`${'a'.repeat(513)}-`)).toBeUndefined();
    expect(punycodeDecode(`${'a'.repeat(511)}-a`)).toHaveLength(512);
    expect(punycodeDecode(`${'a'.repeat(512)}-a`)).toBeUndefined();
  });

  it('writes each code point in UTF-8 at the length boundaries', async () => {
    const { encode } = (await import('node:punycode')).default;
    for (const cp of [0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff]) {
      const text = String.fromCodePoint(cp);
      expect(a2ulabel(`xn--${encode(text)}`, 16), cp.toString(16)).toBe(bytes(text));
    }
    expect(a2ulabel('xn--\x7f-', 16)).toBe('\x7f');
  });

  /*
   * Labels built by hand to reach each bound exactly. Where the answer is a code point past U+10FFFF
   * or a failure, it is the one OpenSSL 3.0.19's ossl_punycode_decode gives (crypto/punycode.c
   * compiled on its own and given these labels); the others are also the RFC's (Node's punycode).
   */
  it('adapts the bias at adapt’s loop bound exactly (a delta of 455 after damping, and 460)', async () => {
    // 'abc' and U+F954 first: (0xf954 - 0x80) * 4 + 3 = 254803, damped to 364, plus 364 / 4 = 455:
    // no division, bias 33 (divided once it would be 45, and U+FA00 would decode as U+FA0A).
    expect(punycodeDecode('abc-d91s5z')).toEqual([0xfa00, 0x61, 0x62, 0x63, 0xf954]);
    expect(punycodeDecode('abc-d91s5z')).toEqual(await reference('abc-d91s5z'));
    // U+27600 first: 161152 / 700 = 230, plus 230 = 460, above 455 (and below 481): divided once.
    expect(punycodeDecode('mt5kca')).toEqual([0x27600, 0x27601]);
    expect(punycodeDecode('mt5kca')).toEqual(await reference('mt5kca'));
  });

  it('fails where an integer would pass 2^32 - 1, and not one before (OpenSSL’s overflow guards)', () => {
    // i = 2^32 - 1 - 128, so n = 2^32 - 1 exactly: each guard lets it through.
    expect(punycodeDecode('ww902716a')).toEqual([0xffffffff]);
    // One more and n would pass 2^32 - 1.
    expect(punycodeDecode('xw902716a')).toBeUndefined();
    // After 'a', the digits 9999999 0 leave i = 3661385385 and a weight of 1225000000: a last digit
    // 0 ends it, a 1 passes 2^32 - 1 (halved by the two code points, n would still fit).
    expect(punycodeDecode('a-99999990a')).toEqual([0x61, 1830692820]);
    expect(punycodeDecode('a-99999990b')).toBeUndefined();
    // 99999995 then a: the digit 5 (31) is the largest i can take at the eighth place.
    expect(punycodeDecode('99999995a')).toEqual([4273885513]);
    expect(punycodeDecode('99999996a')).toBeUndefined();
  });

  it('keeps n within 2^32 - 1 by dividing i before comparing (100 basic code points, then U+80000)', async () => {
    // i = (0x80000 - 0x80) * 101 + 100 = 52940516: times 101 it would pass 2^32 - 1, divided it fits.
    const label = `${'a'.repeat(100)}-4s0334b`;
    expect(punycodeDecode(label)).toEqual([...Array(100).fill(0x61), 0x80000]);
    expect(punycodeDecode(label)).toEqual(await reference(label));
  });

  it('fails on a code point past U+10FFFF, which UTF-8 cannot write, and takes U+10FFFF', () => {
    expect(punycodeDecode('en32g')).toEqual([0x110000]);
    expect(a2ulabel('xn--en32g.example', 256)).toBeUndefined();
    expect(a2ulabel('xn--dn32g.example', 256)).toBe(`${bytes(String.fromCodePoint(0x10ffff))}.example`);
    expect(a2ulabel('xn--ww902716a', 256)).toBeUndefined();
  });
});
