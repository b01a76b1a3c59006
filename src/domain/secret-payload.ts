import { excerpt, utf8Length } from './bounded-text.js';
import { DomainError } from './errors.js';

/** Decimal 420: the default file mode 0644, sent to providers and used when a provider leaves mode unset. */
export const DEFAULT_FILE_MODE = 0o644;
export const MAX_PATH_LENGTH = 4096;
export const MAX_PATH_ELEMENT_LENGTH = 255;

export interface SecretFile {
  readonly path: string;
  readonly mode: number;
  readonly contents: Uint8Array;
}

/** Checks one provider-supplied file path against the rules of the provider API. */
export function validateFilePath(path: string): void {
  const reject = (reason: string): never => {
    throw new DomainError('InvalidPayloadPath', `invalid file path "${excerpt(path)}": ${reason}`);
  };
  if (path === '') reject('path is empty');
  if (path === '.') reject('path must name a file inside the target');
  // UTF-8 bytes, the unit of the kernel's NAME_MAX/PATH_MAX: a multi-byte name it would refuse is refused here, before any write.
  if (utf8Length(path) > MAX_PATH_LENGTH) reject(`path is longer than ${MAX_PATH_LENGTH} bytes`);
  if (path.startsWith('/')) reject('path must be relative');
  if (path.includes('\0')) reject('path contains a NUL character');
  const elements = path.split('/');
  if (elements.some((element) => element === '..')) reject('path must not contain ".."');
  if (elements[0]!.startsWith('..')) reject('first path element must not start with ".."');
  if (normalizePath(path) !== path) reject(`path is not normalised (expected "${excerpt(normalizePath(path))}")`);
  for (const element of elements) {
    if (utf8Length(element) > MAX_PATH_ELEMENT_LENGTH) reject(`path element is longer than ${MAX_PATH_ELEMENT_LENGTH} bytes`);
  }
}

/**
 * Validates a provider payload as a whole: every path, every mode, no duplicates and no file that is
 * also a directory of another file. Returns the files with unset modes set to `defaultMode`, sorted by path.
 */
export function validatePayload(files: readonly SecretFile[], defaultMode = DEFAULT_FILE_MODE): SecretFile[] {
  const seen = new Set<string>();
  const result: SecretFile[] = [];
  for (const file of files) {
    validateFilePath(file.path);
    if (seen.has(file.path)) throw new DomainError('DuplicatePayloadPath', `duplicate file path "${excerpt(file.path)}"`);
    seen.add(file.path);
    result.push({ path: file.path, mode: effectiveMode(file, defaultMode), contents: file.contents });
  }
  for (const path of seen) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (seen.has(parent)) {
        throw new DomainError('DuplicatePayloadPath', `file path "${excerpt(parent)}" is also a directory of "${excerpt(path)}"`);
      }
    }
  }
  return result.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Paths that were mounted before and are absent from the new payload (they must be removed). */
export function stalePaths(mounted: readonly string[], next: readonly string[]): string[] {
  const keep = new Set(next);
  return [...new Set(mounted)].filter((path) => !keep.has(path)).sort();
}

/** The user-visible top-level names of a payload (one symlink each in the kubelet layout). */
export function topLevelNames(paths: readonly string[]): string[] {
  return [...new Set(paths.map((path) => path.split('/')[0]!))].sort();
}

/** True when both payloads hold the same paths, modes and bytes. */
export function samePayload(a: readonly SecretFile[], b: readonly SecretFile[]): boolean {
  if (a.length !== b.length) return false;
  const byPath = new Map(b.map((file) => [file.path, file]));
  return a.every((file) => {
    const other = byPath.get(file.path);
    return other !== undefined && other.mode === file.mode && sameBytes(other.contents, file.contents);
  });
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function effectiveMode(file: SecretFile, defaultMode: number): number {
  if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o777) {
    throw new DomainError('InvalidFileMode', `invalid mode ${file.mode} for "${excerpt(file.path)}"`);
  }
  return file.mode === 0 ? defaultMode : file.mode;
}

/** Lexical normalisation like Go's path.Clean, used to reject unnormalised provider paths. */
export function normalizePath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const element of path.split('/')) {
    if (element === '' || element === '.') continue;
    if (element === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(element);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}
