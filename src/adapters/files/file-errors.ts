import { DomainError, isDomainError } from '../../domain/errors.js';
import type { SecretFile } from '../../domain/secret-payload.js';
import { errorCode } from './file-system.js';

export interface FileOperation {
  readonly target: string;
  readonly action: 'write' | 'read' | 'clear';
  /** The payload of a write, described by size only in messages (never by content). */
  readonly payload?: readonly SecretFile[];
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Runs a file operation and turns what it throws into a DomainError: domain errors pass through,
 * a full volume becomes a message saying the payload does not fit, anything else Internal with the
 * errno code and system call (paths and codes only: no file content reaches a message).
 */
export async function withFileErrors<T>(operation: FileOperation, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toFileError(operation, error);
  }
}

export function toFileError(operation: FileOperation, error: unknown): DomainError {
  if (isDomainError(error)) return error;
  const code = errorCode(error);
  const { target, action, payload } = operation;
  if (code !== undefined && OUT_OF_SPACE.has(code)) {
    const size = payload === undefined ? '' : ` (${plural(payload.length, 'file')}, ${plural(totalBytes(payload), 'byte')})`;
    return new DomainError(
      'Internal',
      `no space left in "${target}" for the payload${size}: it does not fit in the volume's size limit (${code})`,
    );
  }
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  const during = typeof syscall === 'string' ? ` during ${syscall}` : '';
  return new DomainError('Internal', `${action} of files in "${target}" failed: ${code ?? 'unexpected error'}${during}`);
}

function totalBytes(files: readonly SecretFile[]): number {
  return files.reduce((sum, file) => sum + file.contents.length, 0);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
