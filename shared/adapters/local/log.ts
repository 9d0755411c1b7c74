import type { Log } from '../../ports.js';
import { printable } from '../../text.js';

/** A console log for people: `time level message key=value …`; debug only when asked. */
export const consoleLog = (write: (text: string) => void, debug = false): Log => {
  const line =
    (level: string) =>
    (message: string, data: Record<string, unknown> = {}) => {
      const details = Object.entries(data)
        .map(([k, v]) => `${k}=${printable(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)))}`)
        .join(' ');
      write(
        `${new Date().toISOString().slice(11, 19)} ${level.padEnd(5)} ${printable(message)}${details ? `  ${details}` : ''}\n`,
      );
    };
  return {
    debug: debug ? line('debug') : () => {},
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
  };
};
