/**
 * Text from pods and providers is hostile: a provider error code or a volume-context value may be
 * megabytes long. Wherever the driver writes such text (an event, the pod status, the answer to
 * kubelet, a log line) it is cut to a cap of that destination, in UTF-8 bytes (Go's len and the API
 * server's unit), with a marker that says how long the original was.
 */
export const MessageCap = {
  /** core/v1 Event `message`: events.k8s.io/v1 refuses a `note` longer than 1 KiB. */
  event: 1024,
  /** `lastRotationError` of the pod status: the same text as the MountRotationFailed event. */
  podStatus: 1024,
  /** The details of a failed CSI call: kubelet puts them in its FailedMount event and log. */
  kubelet: 2048,
  /** One value (or the message) of a log line. */
  logValue: 512,
} as const;

/** No cap is smaller: the marker alone must fit, with room for a useful prefix. */
export const MIN_CAP_BYTES = 64;

/** `… (truncated, N bytes)`: ends every cut text; N is the original's length in UTF-8 bytes. */
export function truncationMarker(originalBytes: number): string {
  return `… (truncated, ${originalBytes} bytes)`;
}

/**
 * `text` as is when it fits in `capBytes` UTF-8 bytes; otherwise its longest prefix that fits together
 * with the marker, cut between characters (never inside a surrogate pair), followed by the marker.
 */
export function truncateText(text: string, capBytes: number): string {
  if (!Number.isInteger(capBytes) || capBytes < MIN_CAP_BYTES) throw new RangeError(`a text cap must be an integer of at least ${MIN_CAP_BYTES} bytes, got ${capBytes}`);
  // Every UTF-16 unit is at most 3 UTF-8 bytes: most texts need no counting at all.
  if (text.length * 3 <= capBytes) return text;
  const total = utf8Length(text);
  if (total <= capBytes) return text;
  const marker = truncationMarker(total);
  return `${text.slice(0, prefixEnd(text, capBytes - utf8Length(marker)))}${marker}`;
}

/** How much of a hostile value an error message quotes (a path, an object id). */
export const EXCERPT_BYTES = 128;

/** Hostile text quoted in an error message: at most EXCERPT_BYTES, control characters shown as `?`. */
export function excerpt(text: string): string {
  // Cut first: the replacement keeps every length, and a megabyte value is not scanned twice.
  return truncateText(text, EXCERPT_BYTES).replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** Length in UTF-8 bytes; a lone surrogate counts as the 3 bytes of the U+FFFD an encoder writes for it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const width = charWidth(text, i);
    bytes += width.bytes;
    i += width.units - 1;
  }
  return bytes;
}

/** The end (in UTF-16 units) of the longest prefix of at most `budget` UTF-8 bytes, on a character boundary. */
function prefixEnd(text: string, budget: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const width = charWidth(text, i);
    if (bytes + width.bytes > budget) break;
    bytes += width.bytes;
    i += width.units;
  }
  return i;
}

function charWidth(text: string, i: number): { readonly bytes: number; readonly units: number } {
  const unit = text.charCodeAt(i);
  if (unit < 0x80) return { bytes: 1, units: 1 };
  if (unit < 0x800) return { bytes: 2, units: 1 };
  const pair = unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
  return pair ? { bytes: 4, units: 2 } : { bytes: 3, units: 1 };
}
