/**
 * OpenSSL 3's ossl_a2ulabel and ossl_punycode_decode (RFC 3492), ported as they are: how OpenSSL
 * turns an email name constraint into Unicode before comparing it with an SmtpUTF8Mailbox. Strings
 * hold bytes (one char per byte, latin1), as OpenSSL compares bytes.
 */

const BASE = 36;
const TMIN = 1;
const TMAX = 26;
const SKEW = 38;
const DAMP = 700;
const MAXINT = 0xffffffff;
/** OpenSSL's LABEL_BUF_SIZE: code points one label may decode to. */
const LABEL_MAX = 512;

const adapt = (delta: number, points: number, first: boolean): number => {
  let d = first ? Math.floor(delta / DAMP) : Math.floor(delta / 2);
  d += Math.floor(d / points);
  let k = 0;
  while (d > Math.floor(((BASE - TMIN) * TMAX) / 2)) {
    d = Math.floor(d / (BASE - TMIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - TMIN + 1) * d) / (d + SKEW));
};

const digit = (c: number): number => {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 26;
  return -1;
};

/** The code points of a Punycode label (without `xn--`), or undefined where OpenSSL fails. */
export const punycodeDecode = (encoded: string): number[] | undefined => {
  let n = 0x80;
  let i = 0;
  let bias = 72;
  const out: number[] = [];
  // The last delimiter ends the basic code points (one at the start does not count).
  const basic = Math.max(0, encoded.lastIndexOf('-'));
  if (basic > LABEL_MAX) return undefined;
  for (let k = 0; k < basic; k++) {
    const c = encoded.charCodeAt(k);
    if (c >= 0x80) return undefined;
    out.push(c);
  }
  let at = basic > 0 ? basic + 1 : 0;
  while (at < encoded.length) {
    const oldi = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (at >= encoded.length) return undefined;
      const d = digit(encoded.charCodeAt(at++));
      if (d < 0 || d > Math.floor((MAXINT - i) / w)) return undefined;
      i += d * w;
      const t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
      if (d < t) break;
      if (w > Math.floor(MAXINT / (BASE - t))) return undefined;
      w *= BASE - t;
    }
    bias = adapt(i - oldi, out.length + 1, oldi === 0);
    if (Math.floor(i / (out.length + 1)) > MAXINT - n) return undefined;
    n += Math.floor(i / (out.length + 1));
    i %= out.length + 1;
    if (out.length >= LABEL_MAX) return undefined;
    out.splice(i, 0, n);
    i++;
  }
  return out;
};

/** OpenSSL's codepoint2utf8: up to U+10FFFF, surrogates included, as bytes. */
const utf8 = (cp: number): string | undefined => {
  const b = (x: number) => String.fromCharCode(x);
  if (cp <= 0x7f) return b(cp);
  if (cp <= 0x7ff) return b(0xc0 | (cp >> 6)) + b(0x80 | (cp & 0x3f));
  if (cp <= 0xffff) return b(0xe0 | (cp >> 12)) + b(0x80 | ((cp >> 6) & 0x3f)) + b(0x80 | (cp & 0x3f));
  if (cp <= 0x10ffff)
    return (
      b(0xf0 | (cp >> 18)) +
      b(0x80 | ((cp >> 12) & 0x3f)) +
      b(0x80 | ((cp >> 6) & 0x3f)) +
      b(0x80 | (cp & 0x3f))
    );
  return undefined;
};

/**
 * OpenSSL's ossl_a2ulabel: each dot-separated label that starts with `xn--` (in lower case) is
 * decoded to UTF-8, the others are kept; undefined where OpenSSL fails, also when the result and
 * its NUL do not fit in `room` bytes.
 */
export const a2ulabel = (name: string, room: number): string | undefined => {
  let out = '';
  const labels = name.split('.');
  for (const [k, label] of labels.entries()) {
    if (k > 0) out += '.';
    if (!label.startsWith('xn--')) {
      out += label;
    } else {
      const points = punycodeDecode(label.slice(4));
      if (!points) return undefined;
      for (const cp of points) {
        const bytes = utf8(cp);
        if (bytes === undefined) return undefined;
        out += bytes;
      }
    }
    if (out.length > room) return undefined;
  }
  return out.length + 1 > room ? undefined : out;
};
