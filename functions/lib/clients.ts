import type { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../../shared/ports.js';

/** The Log port over Powertools Logger: constant messages, details as attributes. */
export const powertoolsLog = (logger: Logger): Log => ({
  debug: (message, data) => logger.debug(message, data ?? {}),
  info: (message, data) => logger.info(message, data ?? {}),
  warn: (message, data) => logger.warn(message, data ?? {}),
  error: (message, data) => logger.error(message, data ?? {}),
});

/**
 * Options every SDK client of a handler gets. `TRUSTROLL_AWS_ENDPOINT` points them at an
 * emulator (tests). A call that hangs must not eat the invocation's time budget (the roll
 * reserves its worst case): an idle socket for 10 s ends the attempt; the SDK retries it up to twice.
 */
export const clientOptions = (env: NodeJS.ProcessEnv) => {
  const endpoint = env.TRUSTROLL_AWS_ENDPOINT;
  const requestHandler = { connectionTimeout: 3_000, requestTimeout: 10_000 };
  return { requestHandler, ...(endpoint ? { endpoint } : {}) };
};

/** The S3 client's options: an emulator is addressed path-style. */
export const s3Options = (env: NodeJS.ProcessEnv) => ({
  ...clientOptions(env),
  ...(env.TRUSTROLL_AWS_ENDPOINT ? { forcePathStyle: true } : {}),
});
