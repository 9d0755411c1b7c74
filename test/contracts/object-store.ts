import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/ports.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** The ObjectStore contract every versioned store keeps (the S3 adapter runs it too). */
export const contract = (name: string, make: () => ObjectStore) =>
  describe(`${name} keeps the ObjectStore contract`, () => {
    it('keeps every version readable by id and returns the latest by default', async () => {
      const store = make();
      const a = await store.put('state/x.json', bytes('one'));
      const b = await store.put('state/x.json', bytes('two'));
      expect(a.version).not.toBe(b.version);
      expect(text((await store.get('state/x.json')).body)).toBe('two');
      expect(text((await store.get('state/x.json', { version: a.version })).body)).toBe('one');
    });

    it('writes with ifMatch only while the ETag is unchanged, and ifNoneMatch only when absent', async () => {
      const store = make();
      const first = await store.put('k', bytes('1'), { ifNoneMatch: '*' });
      await expect(store.put('k', bytes('x'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(ConflictError);
      const second = await store.put('k', bytes('2'), { ifMatch: first.etag });
      await expect(store.put('k', bytes('3'), { ifMatch: first.etag })).rejects.toBeInstanceOf(ConflictError);
      expect(text((await store.get('k')).body)).toBe('2');
      expect((await store.get('k')).etag).toBe(second.etag);
    });

    it('keeps metadata, deletes with a marker, and lists live keys under a prefix', async () => {
      const store = make();
      const v1 = await store.put('truststore/t.pem', bytes('pem'), { metadata: { revision: '3' } });
      expect((await store.get('truststore/t.pem')).metadata).toEqual({ revision: '3' });
      await store.put('truststore/other.pem', bytes('o'));
      await store.delete('truststore/t.pem');
      await expect(store.get('truststore/t.pem')).rejects.toBeInstanceOf(NotFoundError);
      expect(text((await store.get('truststore/t.pem', { version: v1.version })).body)).toBe('pem');
      expect((await store.list('truststore/')).map((o) => o.key)).toEqual(['truststore/other.pem']);
      await store.delete('never/existed');
    });

    it('tells size and version without reading, and copies objects', async () => {
      const store = make();
      const written = await store.put('inbox-like/a b/ca.pem', bytes('twelve bytes'));
      const head = await store.head('inbox-like/a b/ca.pem');
      expect(head).toMatchObject({ key: 'inbox-like/a b/ca.pem', size: 12 });
      if (!head.version.includes('-')) expect(head.version).toBe(written.version);
      await store.copy('inbox-like/a b/ca.pem', 'archive-like/a b/ca.pem');
      expect(text((await store.get('archive-like/a b/ca.pem')).body)).toBe('twelve bytes');
      await expect(store.head('inbox-like/nothing')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('destroys a version and every older one (delete markers too), and keeps newer versions', async () => {
      const store = make();
      const key = 'inbox-like/acme/key.pem';
      const v1 = await store.put(key, bytes('old secret'));
      await store.delete(key);
      const v2 = await store.put(key, bytes('judged'));
      const v3 = await store.put(key, bytes('newer upload'));
      await store.destroy(key, { upTo: v2.version });
      expect(text((await store.get(key)).body)).toBe('newer upload');
      await expect(store.get(key, { version: v1.version })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.get(key, { version: v2.version })).rejects.toBeInstanceOf(NotFoundError);
      // A version already destroyed names nothing: nothing else goes.
      await store.destroy(key, { upTo: v2.version });
      expect((await store.head(key)).version).toBe(v3.version);
      await store.destroy(key);
      await expect(store.get(key, { version: v3.version })).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.list('inbox-like/acme/')).toEqual([]);
      await store.destroy('never/existed');
    });

    it('accepts unicode and spaces in keys', async () => {
      const store = make();
      await store.put('inbox-like/Müller GmbH/CA bündel.pem', bytes('ü'));
      expect(text((await store.get('inbox-like/Müller GmbH/CA bündel.pem')).body)).toBe('ü');
    });
  });
