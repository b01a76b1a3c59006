import { DomainError } from '../../src/domain/errors.js';

/** The DomainError code `action` throws, or undefined when it returns; any other error propagates. */
export function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
  return undefined;
}
