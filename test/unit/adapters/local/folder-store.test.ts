import { spawn } from 'node:child_process';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlainFolderStore, VersionedFolderStore } from '../../../../shared/adapters/local/folder-store.js';
import { InputError, NotFoundError } from '../../../../shared/errors.js';
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

describe('the plain folder (the inbox people copy into)', () => {
  it('takes a file put back with the same name, size and time as a new version (cp -p, rsync)', async () => {
    const root = tmp();
    const plain = new PlainFolderStore(root, 'inbox/');
    const path = join(root, 'acme', 'ca.pem');
    mkdirSync(dirname(path), { recursive: true });
    const when = new Date('2026-11-01T12:00:00Z');
    writeFileSync(path, 'same bytes');
    utimesSync(path, when, when);
    const first = await plain.head('inbox/acme/ca.pem');
    rmSync(path);
    writeFileSync(path, 'same bytes');
    utimesSync(path, when, when);
    const second = await plain.head('inbox/acme/ca.pem');
    expect(second.size).toBe(first.size);
    expect(second.version).not.toBe(first.version);
    await expect(plain.get('inbox/acme/ca.pem', { version: first.version })).rejects.toThrow(/not found/);
    expect(text((await plain.get('inbox/acme/ca.pem', { version: second.version })).body)).toBe('same bytes');
  });

  it('refuses a hard link (its bytes live on under another name): never read, only the link removed', async () => {
    const root = tmp();
    const outside = join(tmp(), 'secret.pem');
    writeFileSync(outside, 'outside bytes');
    mkdirSync(join(root, 'acme'));
    linkSync(outside, join(root, 'acme', 'linked.pem'));
    const plain = new PlainFolderStore(root, 'inbox/');
    expect((await plain.list('inbox/')).map((o) => o.key)).toEqual(['inbox/acme/linked.pem']);
    await expect(plain.get('inbox/acme/linked.pem')).rejects.toThrow(/hard link \(the file has 2 names\)/);
    await plain.delete('inbox/acme/linked.pem');
    expect(readdirSync(join(root, 'acme'))).toEqual([]);
    expect(readFileSync(outside, 'utf8')).toBe('outside bytes');
  });

  it('never reads or deletes out of its folder when a folder on the path is swapped for a link meanwhile', async () => {
    const root = tmp();
    const elsewhere = tmp();
    mkdirSync(join(root, 'acme'));
    writeFileSync(join(root, 'acme', 'ca.pem'), 'inside');
    mkdirSync(join(elsewhere, 'acme'));
    writeFileSync(join(elsewhere, 'acme', 'ca.pem'), 'outside');
    const plain = new PlainFolderStore(root, 'inbox/');
    // The swap lands between the checks of the path and the use of it (the race a local attacker runs).
    const swapAfterChecks = () => {
      const checked = (plain as unknown as { entry: (k: string) => Promise<{ ino?: number }> }).entry.bind(
        plain,
      );
      (plain as unknown as { entry: (k: string) => Promise<unknown> }).entry = async (key: string) => {
        const found = await checked(key);
        renameSync(join(root, 'acme'), join(root, 'acme.moved'));
        symlinkSync(join(elsewhere, 'acme'), join(root, 'acme'));
        // The inode check alone would catch a different file: make the outside file the same one.
        return {
          ...found,
          ino: statSync(join(elsewhere, 'acme', 'ca.pem')).ino,
          dev: statSync(join(elsewhere, 'acme', 'ca.pem')).dev,
        };
      };
    };
    swapAfterChecks();
    await expect(plain.get('inbox/acme/ca.pem')).rejects.toThrow(/leads out of/);
    rmSync(join(root, 'acme'));
    renameSync(join(root, 'acme.moved'), join(root, 'acme'));
    await expect(plain.delete('inbox/acme/ca.pem')).rejects.toThrow(/leads out of/);
    expect(readFileSync(join(elsewhere, 'acme', 'ca.pem'), 'utf8')).toBe('outside');
  });

  it('gives a name that is not UTF-8 one that is, so the file is judged and removed like any other', async () => {
    const root = tmp();
    mkdirSync(join(root, 'acme'));
    const raw = Buffer.concat([
      Buffer.from(`${root}/acme/key`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('.pem'),
    ]);
    writeFileSync(raw, 'bytes');
    writeFileSync(join(root, 'acme', 'key%FF%FE.pem'), 'taken');
    const plain = new PlainFolderStore(root, 'inbox/');
    const keys = (await plain.list('inbox/')).map((o) => o.key);
    expect(keys).toEqual(['inbox/acme/key%FF%FE.pem', 'inbox/acme/key%FF%FE.pem~2']);
    expect(text((await plain.get('inbox/acme/key%FF%FE.pem~2')).body)).toBe('bytes');
  });
});

describe('versioned folder store, changed by hand', () => {
  const versionsOf = (root: string, key: string) => join(root, `${key}.v`);

  it('takes a version whose body was deleted (its meta kept) as gone: not found by id, the previous one current', async () => {
    const root = tmp();
    const store = new VersionedFolderStore(root);
    const v1 = await store.put('state/s.json', bytes('one'));
    const v2 = await store.put('state/s.json', bytes('two'));
    rmSync(join(versionsOf(root, 'state/s.json'), v2.version));

    await expect(store.get('state/s.json', { version: v2.version })).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.head('state/s.json', { version: v2.version })).rejects.toBeInstanceOf(NotFoundError);
    const current = await store.get('state/s.json');
    expect([current.version, text(current.body)]).toEqual([v1.version, 'one']);
    expect(await store.versions('state/s.json')).toEqual([{ version: v1.version, deleted: false }]);
    // A compare-and-set goes against what reads as current; the lost id is not given again.
    const v3 = await store.put('state/s.json', bytes('three'), { ifMatch: current.etag });
    expect(v3.version > v2.version).toBe(true);
    expect((await store.list('state/')).map((o) => o.version)).toEqual([v3.version]);
  });

  it('numbers a write above every id it is told is used, when its own record of them is gone', async () => {
    const root = tmp();
    const store = new VersionedFolderStore(root);
    await store.put('k', bytes('one'));
    const v2 = await store.put('k', bytes('two'));
    for (const f of [v2.version, `${v2.version}.meta.json`, '.highest'])
      rmSync(join(versionsOf(root, 'k'), f));
    expect((await store.put('k', bytes('x'), { usedVersions: [v2.version, 'not-ours'] })).version).toBe(
      '000003',
    );
    expect((await store.put('k', bytes('y'), { usedVersions: ['000009'] })).version).toBe('000010');
  });

  it('takes a version whose meta no longer parses as gone, and an only version without its body as absent', async () => {
    const root = tmp();
    const store = new VersionedFolderStore(root);
    const v1 = await store.put('k', bytes('one'));
    const v2 = await store.put('k', bytes('two'));
    writeFileSync(join(versionsOf(root, 'k'), `${v2.version}.meta.json`), '{"etag": "x", "meta');
    expect((await store.get('k')).version).toBe(v1.version);
    rmSync(join(versionsOf(root, 'k'), v1.version));
    await expect(store.get('k')).rejects.toBeInstanceOf(NotFoundError);
    // Absent: a create-only write succeeds, as a new id.
    const v3 = await store.put('k', bytes('three'), { ifNoneMatch: '*' });
    expect(v3.version > v2.version).toBe(true);
  });
});

describe('the versioned folder store stamp (what an idle trustroll up reads instead of the state)', () => {
  it('stays while nothing is written, and changes with every write, delete and destroy', async () => {
    const store = new VersionedFolderStore(tmp());
    const seen = [await store.stamp('state/s.json')];
    expect(seen[0]).toBe('absent');
    const steps: (() => Promise<unknown>)[] = [
      () => store.put('state/s.json', bytes('one')),
      // Two writes at once fall within one tick of the file-system clock: still two stamps.
      () => store.put('state/s.json', bytes('two')),
      () => store.put('state/s.json', bytes('two')),
      () => store.delete('state/s.json'),
      () => store.put('state/s.json', bytes('three')),
      // A destroy raises no number: the folder's modification time tells, a clock tick later.
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        await store.destroy('state/s.json');
      },
    ];
    for (const step of steps) {
      await step();
      const stamp = await store.stamp('state/s.json');
      expect(await store.stamp('state/s.json')).toBe(stamp);
      expect(seen).not.toContain(stamp);
      seen.push(stamp);
    }
    // Another key's writes are not this one's.
    await store.put('state/other.json', bytes('x'));
    expect(await store.stamp('state/s.json')).toBe(seen.at(-1));
  });
});
