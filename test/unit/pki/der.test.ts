import { describe, expect, it } from 'vitest';
import {
  bitLength,
  bitStringBytes,
  children,
  DerError,
  decodeOid,
  expectTag,
  printable,
  readOid,
  readSingle,
  readTime,
  readTlv,
  smallInteger,
  TAG,
  unsignedMagnitude,
} from '../../../shared/pki/der.js';
import { oid, tlv } from '../../fixtures/der.js';

/**
 * The DER reader is the first thing hostile bytes meet: every bound it checks is pinned here with
 * the element just inside and just outside it, and every refusal with the message people read.
 */
const u8 = (...b: number[]) => new Uint8Array(b);
const refuses = (f: () => unknown, message: string) => {
  expect(f).toThrow(DerError);
  expect(f).toThrow(message);
};

describe('readTlv', () => {
  it('reads short and long lengths, the tag’s class, number and form', () => {
    const short = readTlv(u8(0x04, 0x02, 0xaa, 0xbb));
    expect(short).toMatchObject({ tag: 0x04, constructed: false, tagClass: 0, tagNumber: 4 });
    expect([...short.content]).toEqual([0xaa, 0xbb]);
    expect(short.bytes.length).toBe(4);

    const content = new Uint8Array(300).fill(7);
    const long = readTlv(tlv(0x30, content));
    expect(long).toMatchObject({ tag: 0x30, constructed: true, tagClass: 0, tagNumber: 16 });
    expect(long.content.length).toBe(300);
    expect(long.bytes.length).toBe(304);

    // 0x81 with one length byte, exactly 127 and 128 bytes of content.
    expect(readTlv(tlv(0x04, new Uint8Array(127))).bytes.length).toBe(129);
    expect(readTlv(tlv(0x04, new Uint8Array(128))).bytes.length).toBe(131);

    const context = readTlv(u8(0xa3, 0x00));
    expect(context).toMatchObject({ constructed: true, tagClass: 2, tagNumber: 3 });
    expect(readTlv(u8(0xc1, 0x00))).toMatchObject({ constructed: false, tagClass: 3, tagNumber: 1 });
  });

  it('reads at an offset and stays within the given end', () => {
    const buf = u8(0xff, 0x04, 0x01, 0x09, 0xee);
    const at = readTlv(buf, 1);
    expect([...at.bytes]).toEqual([0x04, 0x01, 0x09]);
    refuses(() => readTlv(buf, 1, 3), 'element at byte 1 claims 1 bytes but only 0 remain');
    // Exactly at the end is fine.
    expect(readTlv(buf, 1, 4).content[0]).toBe(0x09);
  });

  it('reads a long length whose bytes end exactly at the end, and names its errors DerError', () => {
    expect(readTlv(u8(0x04, 0x81, 0x00)).content.length).toBe(0);
    expect(new DerError('x').name).toBe('DerError');
  });

  it('reads a four-byte length and refuses five', () => {
    const four = u8(0x04, 0x84, 0x00, 0x00, 0x00, 0x01, 0x5a);
    expect(readTlv(four).content[0]).toBe(0x5a);
    refuses(() => readTlv(u8(0x04, 0x85, 0, 0, 0, 0, 1, 0x5a)), 'length of 5 bytes at byte 0 is too large');
  });

  it('refuses what is not DER, naming the byte', () => {
    refuses(() => readTlv(u8(0x04)), 'truncated: no room for a header at byte 0');
    refuses(() => readTlv(u8(0x30, 0x00), 1), 'truncated: no room for a header at byte 1');
    refuses(() => readTlv(u8(0x1f, 0x01, 0x00)), 'high-tag-number form at byte 0 is not supported');
    refuses(() => readTlv(u8(0x3f, 0x01, 0x00)), 'high-tag-number form');
    refuses(() => readTlv(u8(0x30, 0x80, 0x00, 0x00)), 'indefinite length at byte 0 is not DER');
    refuses(() => readTlv(u8(0x04, 0x82, 0x01)), 'truncated length at byte 0');
    refuses(() => readTlv(u8(0x04, 0x03, 0x01, 0x02)), 'element at byte 0 claims 3 bytes but only 2 remain');
  });

  it('reads one element per call, not the rest of the buffer', () => {
    const buf = u8(0x05, 0x00, 0x05, 0x00);
    expect(readTlv(buf).bytes.length).toBe(2);
    refuses(() => readSingle(buf), '2 unexpected bytes after the DER element');
    expect(readSingle(u8(0x05, 0x00)).tag).toBe(TAG.NULL);
  });
});

describe('children and expectTag', () => {
  it('lists the children of a constructed element in order', () => {
    const parent = readTlv(tlv(0x30, tlv(0x02, u8(1)), tlv(0x04, u8(2, 3)), tlv(0x05)));
    expect(children(parent).map((c) => c.tag)).toEqual([0x02, 0x04, 0x05]);
    expect(children(readTlv(tlv(0x30)))).toEqual([]);
  });

  it('refuses children of a primitive element and a child that overruns its parent', () => {
    refuses(() => children(readTlv(u8(0x04, 0x00))), 'tag 0x04 is not constructed');
    refuses(() => children(readTlv(u8(0x30, 0x02, 0x04, 0x05))), 'claims 5 bytes but only 0 remain');
  });

  it('names what is missing or of the wrong type', () => {
    refuses(() => expectTag(undefined, TAG.INTEGER, 'serial'), 'serial is missing');
    refuses(
      () => expectTag(readTlv(u8(0x04, 0x00)), TAG.INTEGER, 'serial'),
      'serial: expected tag 0x02, found 0x04',
    );
    const ok = readTlv(u8(0x02, 0x01, 0x07));
    expect(expectTag(ok, TAG.INTEGER, 'serial')).toBe(ok);
  });
});

describe('object identifiers', () => {
  it('decodes the first two arcs under 0, 1 and 2, and multi-byte arcs', () => {
    expect(readOid(readTlv(oid('2.5.4.3')), 'type')).toBe('2.5.4.3');
    expect(decodeOid(u8(0x00))).toBe('0.0');
    expect(decodeOid(u8(39))).toBe('0.39');
    expect(decodeOid(u8(40))).toBe('1.0');
    expect(decodeOid(u8(79))).toBe('1.39');
    expect(decodeOid(u8(80))).toBe('2.0');
    expect(decodeOid(u8(0x81, 0x34, 0x03))).toBe('2.100.3');
    expect(decodeOid(oid('1.2.840.113549.1.1.11').subarray(2))).toBe('1.2.840.113549.1.1.11');
  });

  it('refuses empty, oversized, unterminated and overflowing identifiers', () => {
    refuses(() => decodeOid(u8()), 'empty object identifier');
    expect(decodeOid(new Uint8Array(64).fill(1))).toMatch(/^0\.1(\.1){63}$/);
    refuses(() => decodeOid(new Uint8Array(65).fill(1)), 'object identifier longer than 64 bytes');
    refuses(() => decodeOid(u8(0x2a, 0x86)), 'object identifier ends inside an arc');
    refuses(() => decodeOid(u8(0x2a, ...new Array(8).fill(0xff), 0x7f)), 'object identifier arc too large');
    // Arcs up to 2^46 - 1 are read (one more digit would pass 2^53); 2^53 + 1 is refused, not
    // read as the 2^53 a JS number would round it to.
    expect(decodeOid(u8(0x2a, 0x8f, ...new Array(5).fill(0xff), 0x7f))).toBe(`1.2.${2 ** 46 - 1}`);
    refuses(
      () => decodeOid(u8(0x2a, 0x90, ...new Array(6).fill(0x80), 0x01)),
      'object identifier arc too large',
    );
    refuses(
      () => readOid(readTlv(u8(0x04, 0x01, 0x2a)), 'algorithm'),
      'algorithm: expected tag 0x06, found 0x04',
    );
  });
});

describe('integers and bit strings', () => {
  it('returns a bit string’s bits without the unused-bits byte, and refuses an empty one', () => {
    expect([...bitStringBytes(readTlv(u8(0x03, 0x03, 0x00, 0xab, 0xcd)), 'key')]).toEqual([0xab, 0xcd]);
    refuses(() => bitStringBytes(readTlv(u8(0x03, 0x00)), 'key'), 'key: empty bit string');
    refuses(() => bitStringBytes(readTlv(u8(0x04, 0x01, 0x00)), 'key'), 'key: expected tag 0x03');
  });

  it('strips leading zero bytes but keeps a lone zero', () => {
    expect([...unsignedMagnitude(u8(0x00, 0x00, 0x80, 0x01))]).toEqual([0x80, 0x01]);
    expect([...unsignedMagnitude(u8(0x00))]).toEqual([0x00]);
    expect([...unsignedMagnitude(u8(0x00, 0x00))]).toEqual([0x00]);
    expect([...unsignedMagnitude(u8(0x01, 0x00))]).toEqual([0x01, 0x00]);
  });

  it('counts significant bits', () => {
    expect(bitLength(u8())).toBe(0);
    expect(bitLength(u8(0x00, 0xff))).toBe(0);
    expect(bitLength(u8(0x01))).toBe(1);
    expect(bitLength(u8(0x80, 0x00))).toBe(16);
    expect(bitLength(u8(0x7f, 0x00, 0x00))).toBe(23);
  });

  it('reads small signed integers up to six bytes', () => {
    const int = (...b: number[]) => readTlv(tlv(0x02, u8(...b)));
    expect(smallInteger(int(0x00), 'n')).toBe(0);
    expect(smallInteger(int(0x7f), 'n')).toBe(127);
    expect(smallInteger(int(0x00, 0x80), 'n')).toBe(128);
    expect(smallInteger(int(0xff), 'n')).toBe(-1);
    expect(smallInteger(int(0x80, 0x00), 'n')).toBe(-32768);
    expect(smallInteger(int(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff), 'n')).toBe(2 ** 47 - 1);
    refuses(() => smallInteger(int(1, 0, 0, 0, 0, 0, 0), 'pathLen'), 'pathLen: integer out of range');
    refuses(() => smallInteger(int(), 'pathLen'), 'pathLen: integer out of range');
    refuses(() => smallInteger(undefined, 'pathLen'), 'pathLen is missing');
  });
});

describe('readTime', () => {
  const utcTime = (s: string) => readTlv(tlv(0x17, new Uint8Array(Buffer.from(s, 'latin1'))));
  const genTime = (s: string) => readTlv(tlv(0x18, new Uint8Array(Buffer.from(s, 'latin1'))));
  const iso = (t: ReturnType<typeof readTlv>) => readTime(t, 'notAfter').toISOString();

  it('reads UTCTime with the RFC 5280 century window (50 → 1950, 49 → 2049)', () => {
    expect(iso(utcTime('491231235959Z'))).toBe('2049-12-31T23:59:59.000Z');
    expect(iso(utcTime('500101000000Z'))).toBe('1950-01-01T00:00:00.000Z');
    expect(iso(utcTime('2606011230Z'))).toBe('2026-06-01T12:30:00.000Z');
    // Without seconds (the full reading, not the fast path), the same window.
    expect(iso(utcTime('4912312359Z'))).toBe('2049-12-31T23:59:00.000Z');
    expect(iso(utcTime('5001010000Z'))).toBe('1950-01-01T00:00:00.000Z');
    expect(iso(utcTime('9901010000Z'))).toBe('1999-01-01T00:00:00.000Z');
  });

  it('reads GeneralizedTime, with or without seconds and fractions', () => {
    expect(iso(genTime('20500101000000Z'))).toBe('2050-01-01T00:00:00.000Z');
    expect(iso(genTime('205001010000Z'))).toBe('2050-01-01T00:00:00.000Z');
    expect(iso(genTime('20500101000001.5Z'))).toBe('2050-01-01T00:00:01.000Z');
    expect(iso(genTime('20500101000001.25Z'))).toBe('2050-01-01T00:00:01.000Z');
    expect(iso(genTime('99991231235959Z'))).toBe('9999-12-31T23:59:59.000Z');
    // Years before 100 stay what they say (Date.UTC would make 0050 into 1950).
    expect(readTime(genTime('00500101000000Z'), 'notBefore').getUTCFullYear()).toBe(50);
  });

  it('refuses times that are malformed, out of range or not times, quoting them safely', () => {
    refuses(() => iso(utcTime('2606011230+0100')), 'notAfter: malformed UTCTime "2606011230+0100"');
    refuses(() => iso(utcTime('260601123000')), 'malformed UTCTime');
    refuses(() => iso(utcTime('x260601123000Z')), 'malformed UTCTime');
    refuses(() => iso(utcTime('260601123000Zx')), 'malformed UTCTime');
    refuses(() => iso(genTime('x20260601123000Z')), 'malformed GeneralizedTime');
    refuses(() => iso(genTime('20260601123000Zx')), 'malformed GeneralizedTime');
    refuses(() => iso(genTime('20260601126000Z')), 'notAfter: date out of range');
    refuses(() => iso(genTime('2606011230Z')), 'notAfter: malformed GeneralizedTime "2606011230Z"');
    refuses(() => iso(genTime('20260601\n1230Z')), 'malformed GeneralizedTime "20260601?1230Z"');
    refuses(() => iso(genTime('20260230000000Z')), 'notAfter: date out of range');
    refuses(() => iso(genTime('20261301000000Z')), 'date out of range');
    refuses(() => iso(genTime('20260601240000Z')), 'date out of range');
    refuses(() => iso(genTime('20260601236000Z')), 'date out of range');
    refuses(() => iso(genTime('20260601235961Z')), 'date out of range');
    // A leap second is written as :60 (at the end of June or December) and read as the next second.
    expect(iso(genTime('20261231235960Z'))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(utcTime('160630235960Z'))).toBe('2016-07-01T00:00:00.000Z');
    refuses(
      () => readTime(readTlv(u8(0x04, 0x00)), 'notBefore'),
      'notBefore: expected a time, found tag 0x04',
    );
    refuses(() => readTime(undefined, 'notBefore'), 'notBefore is missing');
  });

  it('reads the common lengths from the bytes, yet refuses in them what the full reading refuses', () => {
    // Every digit of the two usual forms replaced by the characters just below and above '0'-'9'.
    for (const [make, good, kind] of [
      [genTime, '20260601123000Z', 'GeneralizedTime'],
      [utcTime, '260601123000Z', 'UTCTime'],
    ] as const) {
      for (let i = 0; i < good.length - 1; i++) {
        for (const c of ['/', ':']) {
          const bad = good.slice(0, i) + c + good.slice(i + 1);
          refuses(() => iso(make(bad)), `malformed ${kind} "${bad}"`);
        }
      }
      // The right length without the Z, or with its last field not all digits.
      refuses(() => iso(make(`${good.slice(0, -1)}+`)), `malformed ${kind}`);
    }
    refuses(() => iso(genTime('20260601123000.Z')), 'malformed GeneralizedTime');
    refuses(() => iso(utcTime('2606011230005Z')), 'malformed UTCTime');
    // Every pair's second character just below or above the digits, the first a digit.
    refuses(() => iso(genTime('2/2/1/1/1/1/1/Z')), 'malformed GeneralizedTime');
    refuses(() => iso(genTime('1:1:0:0:0:0:0:Z')), 'malformed GeneralizedTime');
    // A second past 60 mid-day (a leap second is :60, at the end of a day).
    refuses(() => iso(genTime('20260601123061Z')), 'date out of range');
    refuses(() => iso(utcTime('260601123099Z')), 'date out of range');
    refuses(() => iso(genTime('20260001000000Z')), 'date out of range');
    refuses(() => iso(utcTime('260001000000Z')), 'date out of range');
    // A time's text under another tag is no time.
    refuses(
      () => readTime(readTlv(tlv(0x04, new Uint8Array(Buffer.from('260601123000Z')))), 'notBefore'),
      'expected a time, found tag 0x04',
    );
  });
});

describe('printable', () => {
  it('replaces control characters and cuts long text with an ellipsis', () => {
    expect(printable('a\u0000b\u001fc\u007fd\u009fe\u00a0')).toBe('a?b?c?d?e\u00a0');
    expect(printable('x'.repeat(60))).toBe('x'.repeat(60));
    expect(printable('x'.repeat(61))).toBe(`${'x'.repeat(60)}…`);
    expect(printable('abcdef', 3)).toBe('abc…');
  });
});
