import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlainFolderStore, VersionedFolderStore } from '../../../../shared/adapters/local/folder-store.js';
import { InputError } from '../../../../shared/errors.js';
import { contract } from '../../../contracts/object-store.js';
import { MemoryStore } from '../../../fakes/memory-store.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const tmp = () => mkdtempSync(join(tmpdir(), 'trustroll-store-'));

contract('MemoryStore (test fake)', () => new MemoryStore());
contract('VersionedFolderStore', () => new VersionedFolderStore(tmp()));

describe('local folder stores', () => {
  it('refuse keys that would escape their folder', async () => {
    const root = tmp();
    const store = new VersionedFolderStore(root);
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b']) {
      await expect(store.put(key, bytes('x')), key).rejects.toBeInstanceOf(InputError);
    }
    // On POSIX a backslash is part of a name, not a separator: the key stays one name inside.
    await store.put('a\\..\\b', bytes('x'));
    expect(readdirSync(root)).toEqual(['a\\..\\b.v']);
    const plain = new PlainFolderStore(tmp(), 'inbox/');
    await expect(plain.put('inbox/../escape', bytes('x'))).rejects.toBeInstanceOf(InputError);
  });

  it('plain folder lists real files only, skipping hidden and temporary ones', async () => {
    const root = tmp();
    const plain = new PlainFolderStore(root, 'inbox/');
    await plain.put('inbox/acme/ca.pem', bytes('x'));
    writeFileSync(join(root, 'acme', '.ca.pem.swp'), 'x');
    writeFileSync(join(root, 'acme', 'partial.tmp'), 'x');
    expect((await plain.list('inbox/')).map((o) => o.key)).toEqual(['inbox/acme/ca.pem']);
  });

  it('compare-and-set is atomic across processes: 2 × 40 increments give 80', async () => {
    const root = tmp();
    const script = join(root, 'hammer.mts');
    writeFileSync(
      script,
      `import { VersionedFolderStore } from ${JSON.stringify(resolve('shared/adapters/local/folder-store.ts'))};
       import { ConflictError, NotFoundError } from ${JSON.stringify(resolve('shared/errors.ts'))};
       const store = new VersionedFolderStore(${JSON.stringify(join(root, 'store'))});
       for (let i = 0; i < 40; i++) {
         for (;;) {
           let n = 0, etag: string | undefined;
           try { const o = await store.get('counter'); n = Number(Buffer.from(o.body).toString()); etag = o.etag; }
           catch (e) { if (!(e instanceof NotFoundError)) throw e; }
           try { await store.put('counter', new Uint8Array(Buffer.from(String(n + 1))), etag ? { ifMatch: etag } : { ifNoneMatch: '*' }); break; }
           catch (e) { if (!(e instanceof ConflictError)) throw e; }
         }
       }`,
    );
    const run = () =>
      new Promise<number | null>((done) => {
        const child = spawn('node', ['--import', 'tsx', script], { stdio: 'inherit' });
        child.on('exit', done);
      });
    expect(await Promise.all([run(), run()])).toEqual([0, 0]);
    const store = new VersionedFolderStore(join(root, 'store'));
    expect(text((await store.get('counter')).body)).toBe('80');
  });
});
