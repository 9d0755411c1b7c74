import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** One command to run as a whole process. */
export interface ProcessCase {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Exit statuses that count as success (lint exits 1 on findings). */
  readonly ok?: readonly number[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Medians of whole-process runs: wall and CPU (user + system) time, and the highest peak RSS. */
export interface ProcessFigures {
  readonly wallMs: number;
  readonly cpuMs?: number;
  /** CPU time averaged over the runs: GNU time counts in 10 ms steps, too coarse for a median of short runs. */
  readonly meanCpuMs?: number;
  readonly peakRssMiB?: number;
}

// GNU time reports a child's CPU time and peak RSS; without it only wall time is measured.
const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true']).status === 0;

const once = (c: ProcessCase, rusage: boolean): { wallMs: number; cpuMs?: number; peakRssKiB?: number } => {
  const [command, args] = rusage
    ? [GNU_TIME, ['-f', 'TIME %e %U %S %M', c.command, ...c.args]]
    : [c.command, [...c.args]];
  const start = performance.now();
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...c.env },
    ...(c.cwd ? { cwd: c.cwd } : {}),
  });
  const wallMs = performance.now() - start;
  if (!(c.ok ?? [0]).includes(r.status ?? -1))
    throw new Error(`${c.name} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  if (!rusage) return { wallMs };
  const m = /TIME (\S+) (\S+) (\S+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`${c.name}: no timing line from ${GNU_TIME}: ${r.stderr.slice(-500)}`);
  return { wallMs, cpuMs: (Number(m[2]) + Number(m[3])) * 1000, peakRssKiB: Number(m[4]) };
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/**
 * Runs the cases `runs` times each, alternated (a, b, c, a, b, c, …) after one warm-up round,
 * so that the load of a shared machine hits every case alike: compare the ratios. With
 * `rusage` (and GNU time installed) each run also reports CPU time and peak RSS; without it the
 * process is started directly, so that the wall time of a short run carries no wrapper.
 */
export const alternate = (
  cases: readonly ProcessCase[],
  runs: number,
  { rusage = true } = {},
): ProcessFigures[] => {
  const withUsage = rusage && hasGnuTime;
  for (const c of cases) once(c, withUsage);
  const samples = cases.map(() => [] as ReturnType<typeof once>[]);
  for (let i = 0; i < runs; i++)
    cases.forEach((c, k) => {
      samples[k]!.push(once(c, withUsage));
    });
  return samples.map((s) => ({
    wallMs: median(s.map((x) => x.wallMs)),
    ...(withUsage
      ? {
          cpuMs: median(s.map((x) => x.cpuMs!)),
          meanCpuMs: s.reduce((sum, x) => sum + x.cpuMs!, 0) / s.length,
          peakRssMiB: Math.max(...s.map((x) => x.peakRssKiB!)) / 1024,
        }
      : {}),
  }));
};
