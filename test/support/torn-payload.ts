import type { SecretFile } from '../../src/domain/secret-payload.js';

/**
 * Payloads for the torn-read stress test: in version N every file repeats the line `<name>:<N>`
 * so a reader can tell which version a file came from and whether it is whole.
 */
const LINES_PER_FILE = 16;

export function fileNameAt(index: number): string {
  return `file-${String(index).padStart(2, '0')}`;
}

export function versionedPayload(version: number, fileCount: number): SecretFile[] {
  return Array.from({ length: fileCount }, (_, index) => {
    const name = fileNameAt(index);
    const line = `${name}:${String(version).padStart(10, '0')}\n`;
    return { path: name, mode: 0o644, contents: new TextEncoder().encode(line.repeat(LINES_PER_FILE)) };
  });
}

/** The version a whole file carries, or undefined when it is torn (mixed, short or empty). */
export function parseVersion(contents: Uint8Array, name: string): number | undefined {
  const text = new TextDecoder().decode(contents);
  const lines = text.split('\n');
  if (lines.length !== LINES_PER_FILE + 1 || lines[LINES_PER_FILE] !== '') return undefined;
  const first = lines[0]!;
  if (!first.startsWith(`${name}:`) || lines.some((line, i) => i < LINES_PER_FILE && line !== first)) return undefined;
  const version = Number(first.slice(name.length + 1));
  return Number.isInteger(version) ? version : undefined;
}
