import { decodeBase64, encodeBase64 } from './base64.js';
import { DomainError, isDomainError } from './errors.js';

export interface PemBlock {
  readonly type: string;
  readonly bytes: Uint8Array;
}

const BEGIN_LINE = /^-----BEGIN (.+?)-----$/;
const END_LINE = /^-----END (.+?)-----$/;
const LINE_BREAK = /\r\n|\r|\n/;
/** RFC 7468 and Go's encoding/pem both wrap the body at 64 characters. */
const BODY_LINE_LENGTH = 64;

/**
 * All PEM blocks of `text` in order. Text between blocks (comments, bag attributes) is ignored;
 * a block that never ends, ends with another type or has a body that is not base64 is an error,
 * because silently dropping it could drop the very certificate or key the caller needs.
 */
export function parsePem(text: string): PemBlock[] {
  const lines = text.split(LINE_BREAK).map((line) => line.trim());
  const blocks: PemBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const begin = BEGIN_LINE.exec(lines[index]!);
    if (!begin) continue;
    const type = begin[1]!;
    const end = findEndLine(lines, index + 1, type);
    blocks.push({ type, bytes: decodeBody(lines.slice(index + 1, end).join(''), type) });
    index = end;
  }
  return blocks;
}

/** One block as PEM text, ending with a line break so blocks can be concatenated. */
export function encodePem(block: PemBlock): string {
  const body = encodeBase64(block.bytes);
  let text = `-----BEGIN ${block.type}-----\n`;
  for (let start = 0; start < body.length; start += BODY_LINE_LENGTH) {
    text += `${body.slice(start, start + BODY_LINE_LENGTH)}\n`;
  }
  return `${text}-----END ${block.type}-----\n`;
}

function findEndLine(lines: readonly string[], from: number, type: string): number {
  for (let index = from; index < lines.length; index++) {
    const line = lines[index]!;
    if (BEGIN_LINE.test(line)) break;
    const end = END_LINE.exec(line);
    if (end && end[1] === type) return index;
    if (end) throw invalidPem(`PEM block "${type}" is closed by an END line of type "${end[1]}"`);
  }
  throw invalidPem(`PEM block "${type}" has no END line`);
}

function decodeBody(body: string, type: string): Uint8Array {
  try {
    return decodeBase64(body);
  } catch (error) {
    if (!isDomainError(error)) throw error;
    throw invalidPem(`PEM block "${type}" has an invalid body: ${error.message}`);
  }
}

function invalidPem(message: string): DomainError {
  return new DomainError('InvalidTlsData', message);
}
