import { DomainError } from './errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PEM_WHITESPACE = /[ \t\r\n]/g;

/** Sextet value of each ASCII character; -1 marks characters outside the alphabet. */
const SEXTET_OF = new Int8Array(128).fill(-1);
for (let index = 0; index < ALPHABET.length; index++) SEXTET_OF[ALPHABET.charCodeAt(index)] = index;

/** Standard base64 with padding, the encoding PEM bodies use. */
export function encodeBase64(bytes: Uint8Array): string {
  let text = '';
  for (let start = 0; start < bytes.length; start += 3) {
    const remaining = bytes.length - start;
    const triple = (bytes[start]! << 16) | ((bytes[start + 1] ?? 0) << 8) | (bytes[start + 2] ?? 0);
    text += ALPHABET[(triple >> 18) & 63]! + ALPHABET[(triple >> 12) & 63]!;
    text += remaining > 1 ? ALPHABET[(triple >> 6) & 63]! : '=';
    text += remaining > 2 ? ALPHABET[triple & 63]! : '=';
  }
  return text;
}

/**
 * Decodes standard, padded base64. Line breaks, spaces and tabs are ignored because PEM wraps its
 * body; any other character outside the alphabet is rejected rather than skipped, so corrupted
 * input fails loudly instead of decoding to different bytes.
 */
export function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(PEM_WHITESPACE, '');
  if (compact.length % 4 !== 0) throw invalidBase64('its length is not a multiple of 4');
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  const dataLength = compact.length - padding;
  const bytes = new Uint8Array((compact.length / 4) * 3 - padding);
  let written = 0;
  for (let start = 0; start < compact.length; start += 4) {
    let triple = 0;
    for (let offset = start; offset < start + 4; offset++) {
      triple = (triple << 6) | (offset < dataLength ? sextetAt(compact, offset) : 0);
    }
    for (let shift = 16; shift >= 0 && written < bytes.length; shift -= 8) bytes[written++] = (triple >> shift) & 0xff;
  }
  return bytes;
}

function sextetAt(text: string, offset: number): number {
  const code = text.charCodeAt(offset);
  const sextet = code < 128 ? SEXTET_OF[code]! : -1;
  // The character itself is not echoed: it may be part of key material.
  if (sextet < 0) throw invalidBase64('it contains a character outside the base64 alphabet or misplaced padding');
  return sextet;
}

function invalidBase64(reason: string): DomainError {
  return new DomainError('InvalidTlsData', `invalid base64: ${reason}`);
}
