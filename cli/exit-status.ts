import type { Command } from 'commander';

/** What one exit status of one command means. */
export type ExitStatuses = Readonly<Partial<Record<0 | 1 | 2 | 4 | 5, string>>>;

/** Said the same way by every command that opens a store. */
export const STORE_STATUSES = {
  4: 'the store is damaged: trustroll status explains it, trustroll repair mends it',
  5: 'S3, the file system or API Gateway failed for now: nothing was lost, run the command again',
} as const satisfies ExitStatuses;

/** For a command that opens no store: 5 is only its output failing to be written. */
export const OUTPUT_STATUS = {
  5: 'the output could not be written (a full disk, a failing device): run the command again',
} as const satisfies ExitStatuses;

const declared = new Map<string, ExitStatuses>();

/** The full name of a command (`pki init`), as typed after `trustroll`. */
export const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/**
 * The `--help` text declaring a command's exit statuses (`command` as typed after `trustroll`,
 * such as `pki init`). Kept too, so the README's table and the CLI contract test can be checked
 * against what each command says it returns.
 */
export const exitHelp = (command: string, statuses: ExitStatuses, after = ''): string => {
  declared.set(command, statuses);
  const lines = Object.entries(statuses).map(([code, what]) => `  ${code}  ${what}`);
  return `\nExit status:\n${lines.join('\n')}\n  (3 means a bug in trustroll: see trustroll --help)${after ? `\n\n${after}` : ''}`;
};

/** Every command's declared exit statuses, by command path (after the program is built). */
export const declaredExitStatuses = (program: Command): Map<string, ExitStatuses> => {
  const out = new Map<string, ExitStatuses>();
  const walk = (cmd: Command) => {
    for (const sub of cmd.commands) {
      const path = commandPath(sub);
      const statuses = declared.get(path);
      if (statuses) out.set(path, statuses);
      walk(sub);
    }
  };
  walk(program);
  return out;
};
