export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Structured logging. Contract: adapters redact secret material (the `secrets` map, token JSON,
 * file contents, Secret data) from fields before writing; callers still never pass secret values.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}
export const Logger = Symbol.for('Logger');
