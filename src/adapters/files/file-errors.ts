import { DomainError, isDomainError } from '../../domain/errors.js';
import type { SecretFile } from '../../domain/secret-payload.js';
import { describeShortfall, type VolumeUsage } from '../../domain/volume-capacity.js';
import { errorCode } from './file-system.js';

export interface FileOperation {
  readonly target: string;
  readonly action: 'write' | 'read' | 'clear';
  /** The payload of a write, described by size only in messages (never by content). */
  readonly payload?: readonly SecretFile[];
  /** The target volume's size and free space, asked for only when it turned out to be full. */
  readonly usage?: () => Promise<VolumeUsage | undefined>;
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);
const OUT_OF_FILE_HANDLES = new Set(['EMFILE', 'ENFILE']);

/**
 * Runs a file operation and turns what it throws into a DomainError: domain errors pass through,
 * a full volume becomes VolumeFull with the payload's and the volume's sizes, running out of file
 * handles TooManyOpenFiles, anything else Internal with the errno code and system call (paths,
 * codes and sizes only: no file content reaches a message).
 */
export async function withFileErrors<T>(operation: FileOperation, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw await toFileError(operation, error);
  }
}

export async function toFileError(operation: FileOperation, error: unknown): Promise<DomainError> {
  if (isDomainError(error)) return error;
  const code = errorCode(error);
  const { target, action, payload } = operation;
  if (code !== undefined && OUT_OF_SPACE.has(code)) {
    const usage = await operation.usage?.().catch(() => undefined);
    const numbers = payload === undefined ? 'the volume is full' : describeShortfall(payload, usage);
    return new DomainError('VolumeFull', `no space left in "${target}" (${code}): ${numbers}`);
  }
  if (code !== undefined && OUT_OF_FILE_HANDLES.has(code)) {
    return new DomainError('TooManyOpenFiles', `${action} of files in "${target}" failed: too many open files (${code}); raise the driver's open-file limit`);
  }
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  const during = typeof syscall === 'string' ? ` during ${syscall}` : '';
  return new DomainError('Internal', `${action} of files in "${target}" failed: ${code ?? 'unexpected error'}${during}`);
}
