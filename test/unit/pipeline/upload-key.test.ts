import { describe, expect, it } from 'vitest';
import {
  destinationKey,
  MAX_KEY_BYTES,
  parseUploadKey,
  reportKey,
} from '../../../shared/pipeline/upload-key.js';

describe('archive and report keys', () => {
  it('stay within S3 key length for an inbox key of the maximum length, and stay apart for two such keys', () => {
    // 1024 bytes exactly: folders of 200 bytes, two-byte characters, a name that differs at the end.
    const long = (c: string) => {
      const folders = `inbox/acme/${`${'ü'.repeat(100)}/`.repeat(3)}`;
      const name = `${'n'.repeat(MAX_KEY_BYTES - Buffer.byteLength(folders) - 5)}${c}.pem`;
      return parseUploadKey(`${folders}${name}`);
    };
    for (const upload of [long('a'), long('b')]) {
      const bytes = Buffer.byteLength(upload.key);
      expect(bytes).toBe(MAX_KEY_BYTES);
      for (const folder of ['archive', 'rejected'] as const) {
        expect(Buffer.byteLength(destinationKey(upload, folder))).toBeLessThanOrEqual(MAX_KEY_BYTES);
        expect(Buffer.byteLength(reportKey(upload, folder))).toBeLessThanOrEqual(MAX_KEY_BYTES);
        expect(reportKey(upload, folder)).toMatch(/\.report\.json$/);
        expect(destinationKey(upload, folder)).not.toMatch(/\uFFFD/);
      }
    }
    expect(destinationKey(long('a'), 'archive')).not.toBe(destinationKey(long('b'), 'archive'));
  });

  it('keep a short key as it is', () => {
    const upload = parseUploadKey('inbox/acme/ca bündel.pem');
    expect(destinationKey(upload, 'archive')).toBe('archive/acme/ca bündel.pem');
    expect(reportKey(upload, 'rejected')).toBe('rejected/acme/ca bündel.pem.report.json');
  });
});
