import { DomainError } from './errors.js';

/** The few ASN.1 tags private key structures use (single-byte, low-tag-number form). */
export const DER_TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OBJECT_IDENTIFIER: 0x06,
  SEQUENCE: 0x30,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;

export interface DerElement {
  readonly tag: number;
  readonly content: Uint8Array;
  /** The whole element (tag, length and content), to copy it unchanged into a rebuilt structure. */
  readonly encoded: Uint8Array;
}

/** Lengths beyond four bytes would describe more than 4 GiB, far past any key or certificate. */
const MAX_LENGTH_BYTES = 4;

/** Reads exactly one element; trailing bytes are an error so concatenated garbage is not ignored. */
export function readDerElement(bytes: Uint8Array): DerElement {
  const element = readElementAt(bytes, 0);
  if (element.encoded.length !== bytes.length) throw malformed('unexpected bytes after the element');
  return element;
}

/** Reads the consecutive elements filling `bytes`, e.g. the content of a SEQUENCE. */
export function readDerElements(bytes: Uint8Array): DerElement[] {
  const elements: DerElement[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const element = readElementAt(bytes, offset);
    elements.push(element);
    offset += element.encoded.length;
  }
  return elements;
}

/** Encodes one element whose content is the concatenation of `parts`, with a minimal DER length. */
export function encodeDer(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  const contentLength = parts.reduce((sum, part) => sum + part.length, 0);
  const header = [tag, ...encodeLength(contentLength)];
  const encoded = new Uint8Array(header.length + contentLength);
  encoded.set(header);
  let offset = header.length;
  for (const part of parts) {
    encoded.set(part, offset);
    offset += part.length;
  }
  return encoded;
}

/** Dotted form of an OBJECT IDENTIFIER's content, for error messages (e.g. `1.3.101.112`). */
export function formatOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let arc = 0;
  for (const byte of content) {
    arc = arc * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0;
    }
  }
  if (arcs.length === 0) return '(empty)';
  // The first encoded arc packs the first two arcs as 40 * first + second.
  const first = Math.min(Math.floor(arcs[0]! / 40), 2);
  return [first, arcs[0]! - first * 40, ...arcs.slice(1)].join('.');
}

function readElementAt(bytes: Uint8Array, start: number): DerElement {
  if (bytes.length - start < 2) throw malformed('element is truncated');
  const tag = bytes[start]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('multi-byte tags are not supported');
  const { length, headerLength } = readLength(bytes, start + 1);
  const contentStart = start + 1 + headerLength;
  if (length > bytes.length - contentStart) throw malformed('element is truncated');
  const end = contentStart + length;
  return { tag, content: bytes.subarray(contentStart, end), encoded: bytes.subarray(start, end) };
}

function readLength(bytes: Uint8Array, offset: number): { length: number; headerLength: number } {
  const first = bytes[offset]!;
  if (first < 0x80) return { length: first, headerLength: 1 };
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0) throw malformed('indefinite lengths are not allowed in DER');
  if (lengthBytes > MAX_LENGTH_BYTES) throw malformed('length is too large');
  if (offset + lengthBytes >= bytes.length) throw malformed('element is truncated');
  let length = 0;
  for (let index = 1; index <= lengthBytes; index++) length = length * 256 + bytes[offset + index]!;
  return { length, headerLength: 1 + lengthBytes };
}

function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

function malformed(reason: string): DomainError {
  return new DomainError('InvalidTlsData', `malformed DER: ${reason}`);
}
