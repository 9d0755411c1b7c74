/** A Lambda's environment is unusable: thrown at cold start, naming every problem at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
