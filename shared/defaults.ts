/**
 * Defaults shared by the use-cases and the CLI's option declarations: kept apart so that declaring
 * a command (for `--help`) loads no use-case.
 */

/** `cert.expiring` warns about a CA expiring within this many days. */
export const DEFAULT_EXPIRING_DAYS = 30;

/** The expiry scan alerts when a CA crosses one of these many days before it expires. */
export const DEFAULT_THRESHOLDS: readonly number[] = [60, 30, 14, 7, 3, 1];
