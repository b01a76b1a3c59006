/** Secret `data` values: bytes as standard base64 text, the encoding the API server stores and returns. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes to a plain Uint8Array (not a Buffer) so callers compare bytes, not classes. */
export function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True for canonical padded standard base64, the only form the API server accepts in Secret data. */
export function isBase64(text: string): boolean {
  return BASE64.test(text);
}
