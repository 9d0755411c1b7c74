import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withLock } from '../../../../shared/adapters/local/paths.js';

/**
 * The folder store's cross-process lock. A `trustroll up` killed (-9) while holding it left it
 * behind, and the restarted `up` waited 15 s in silence before it could take a CRL, serving the
 * old revocation index meanwhile. A lock names its holder; one whose holder is gone is broken
 * at once. These tests give the age rule an hour, so only the holder rule can let them through.
 */
const dir = mkdtempSync(join(tmpdir(), 'trustroll-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOUR = 3_600_000;

/** A pid that was a process of this machine and is gone. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
};

/** A lock file as a holder leaves it: its content names the holder. */
const leftBehind = (name: string, owner: string) => {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, '.lock'), owner);
  return folder;
};

describe('withLock', () => {
  it('breaks a lock whose holder process is gone, and runs', async () => {
    const folder = leftBehind('dead', `${deadPid()} ${hostname()}`);
    expect(await withLock(folder, async () => 'ran', '.lock', HOUR)).toBe('ran');
  });

  it('breaks a lock file left empty (its holder killed between creating and naming it) once it has aged a second', async () => {
    const folder = leftBehind('empty', '');
    const old = new Date(Date.now() - 5_000);
    utimesSync(join(folder, '.lock'), old, old);
    expect(await withLock(folder, async () => 'ran', '.lock', HOUR)).toBe('ran');
  });

  it("breaks a lock naming this process's own pid that this process does not hold (left before a restart that reused the pid, as pid 1 in a container)", async () => {
    const folder = leftBehind('same-pid', `${process.pid} ${hostname()}`);
    expect(await withLock(folder, async () => 'ran', '.lock', HOUR)).toBe('ran');
  });

  it('makes a second caller of this process wait for the first (its own lock is not taken for a dead one)', async () => {
    const folder = join(dir, 'in-process');
    const order: string[] = [];
    let release!: () => void;
    const first = withLock(
      folder,
      () => new Promise<void>((r) => (release = () => (order.push('first'), r()))),
      '.lock',
      HOUR,
    );
    await new Promise((r) => setTimeout(r, 50));
    const second = withLock(folder, async () => void order.push('second'), '.lock', HOUR);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
  });

  it('waits for a holder that is alive, and runs once it lets go', async () => {
    const folder = leftBehind('alive', `${process.ppid} ${hostname()}`);
    let ran = false;
    const waiting = withLock(folder, async () => (ran = true), '.lock', HOUR);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ran).toBe(false);
    rmSync(join(folder, '.lock'), { recursive: true, force: true });
    await waiting;
    expect(ran).toBe(true);
  });

  it("leaves another machine's lock (a shared folder) to the age rule", async () => {
    const folder = leftBehind('remote', `${deadPid()} not-${hostname()}`);
    let ran = false;
    const waiting = withLock(folder, async () => (ran = true), '.lock', HOUR);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ran).toBe(false);
    rmSync(join(folder, '.lock'), { recursive: true, force: true });
    await waiting;
  });

  it('names its holder while held, and leaves nothing behind', async () => {
    const folder = join(dir, 'held');
    const owner = await withLock(folder, async () => readFileSync(join(folder, '.lock'), 'utf8'));
    expect(owner).toBe(`${process.pid} ${hostname()}`);
    expect(existsSync(join(folder, '.lock'))).toBe(false);
  });

  it('leaves a lock folder of an earlier trustroll (no holder named) to the age rule, and breaks it then', async () => {
    const folder = join(dir, 'old-style');
    mkdirSync(join(folder, '.lock'), { recursive: true });
    let ran = false;
    const waiting = withLock(folder, async () => (ran = true), '.lock', HOUR);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ran).toBe(false);
    rmSync(join(folder, '.lock'), { recursive: true, force: true });
    await waiting;
    // Aged: broken by the age rule (a stale limit of 0 ms).
    mkdirSync(join(folder, '.lock'), { recursive: true });
    expect(await withLock(folder, async () => 'ran', '.lock', 0)).toBe('ran');
  });
});
