/** One measured figure; `floor` and `ratio` when it is compared against a baseline. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly floor?: number;
  readonly ratio?: number;
  readonly target?: string;
}

export const json = process.argv.includes('--json');

export const report = (figure: Figure): void => {
  if (json) {
    process.stdout.write(`${JSON.stringify(figure)}\n`);
    return;
  }
  const extra =
    figure.floor === undefined
      ? figure.target
        ? `   (target ${figure.target})`
        : ''
      : `   floor ${fmt(figure.floor)} ${figure.unit}   ratio ${figure.ratio?.toFixed(2)}${figure.target ? ` (target ${figure.target})` : ''}`;
  process.stdout.write(
    `${figure.name.padEnd(52)} ${fmt(figure.value).padStart(10)} ${figure.unit}${extra}\n`,
  );
};

export const note = (text: string): void => {
  if (!json) process.stdout.write(`${text}\n`);
};

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(4));

/** Median wall time in milliseconds of `runs` calls after one warm-up call. */
export const median = (fn: () => unknown, runs = 5): number => {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
};
