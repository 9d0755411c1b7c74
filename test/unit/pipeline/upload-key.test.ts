import { describe, expect, it } from 'vitest';
import { keptKeys, MAX_KEY_BYTES, parseUploadKey } from '../../../shared/pipeline/upload-key.js';

describe('where a decided upload is kept', () => {
  it('gives each upload its own path: the same name uploaded twice is two records', () => {
    const upload = parseUploadKey('inbox/acme/ca bündel.pem');
    const first = keptKeys(upload, upload.key, 'archive', 'inbox/acme/ca bündel.pem@v1#aaaa');
    const second = keptKeys(upload, upload.key, 'archive', 'inbox/acme/ca bündel.pem@v2#bbbb');
    expect(first.certificates).toMatch(/^archive\/acme\/ca bündel\.pem@[0-9a-f]{10}\.pem$/);
    expect(first.report).toBe(first.certificates.replace(/\.pem$/, '.report.json'));
    expect(second.certificates).not.toBe(first.certificates);
    // The same upload judged again (a retried run) writes the same keys.
    expect(keptKeys(upload, upload.key, 'archive', 'inbox/acme/ca bündel.pem@v1#aaaa')).toEqual(first);
    expect(keptKeys(upload, upload.key, 'rejected', 'x').report).toMatch(/^rejected\/acme\//);
    expect(keptKeys(undefined, 'inbox/loose.pem', 'rejected', 'x').report).toMatch(
      /^rejected\/_unsorted\/inbox_loose\.pem@[0-9a-f]{10}\.report\.json$/,
    );
  });

  it('stay within S3 key length and a file name of 255 bytes for an inbox key of the maximum length', () => {
    // 1024 bytes exactly: folders of 200 bytes, two-byte characters, a name that differs at the end.
    const long = (c: string) => {
      const folders = `inbox/acme/${`${'ü'.repeat(100)}/`.repeat(3)}`;
      const name = `${'n'.repeat(MAX_KEY_BYTES - Buffer.byteLength(folders) - 5)}${c}.pem`;
      return parseUploadKey(`${folders}${name}`);
    };
    const keys = [long('a'), long('b')].map((u) => keptKeys(u, u.key, 'archive', u.key));
    for (const upload of [long('a'), long('b')]) expect(Buffer.byteLength(upload.key)).toBe(MAX_KEY_BYTES);
    for (const k of keys) {
      for (const key of [k.certificates, k.report]) {
        expect(Buffer.byteLength(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
        expect(Buffer.byteLength(key.slice(key.lastIndexOf('/') + 1))).toBeLessThanOrEqual(255);
        expect(key).not.toMatch(/\uFFFD/);
      }
    }
    expect(keys[0]!.certificates).not.toBe(keys[1]!.certificates);
  });
});
