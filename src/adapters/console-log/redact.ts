import { MessageCap, MIN_CAP_BYTES, truncateText, utf8Length } from '../../domain/bounded-text.js';

export const REDACTED = '[REDACTED]';
export const TRUNCATED = '[TRUNCATED]';

/** Field names whose values are secret material wherever they appear in a log record. */
const SECRET_KEY = /(secret|token|password|contents|^data$|credential|private)/i;

/** Names that match SECRET_KEY but only name Kubernetes objects (the class, a synced Secret): kept for operators. */
const OBJECT_NAME_KEYS = new Set(['secretProviderClass', 'secretProviderClassName', 'secretName']);

/**
 * What one log record may carry, whatever a caller passes: pod- and provider-controlled text (a
 * volume-context value, an error code) may be megabytes long, and a log line must stay a line.
 */
export const LogRecordLimit = {
  /** UTF-8 bytes of one string (a value or a key), cut with the truncation marker beyond. */
  valueBytes: MessageCap.logValue,
  /** Entries of one object or array; the rest is counted in one `…` entry. */
  entries: 32,
  /** Objects nested deeper are written as [TRUNCATED]. */
  depth: 8,
  /** Text of the whole record (strings, keys, numbers); once spent, what is left is [TRUNCATED]. */
  recordBytes: 8 * 1024,
} as const;

/**
 * A copy of a log record that is safe to write: secret material replaced (values under secret-looking
 * keys, and byte arrays anywhere: file contents and Secret data are bytes) and every part bounded by
 * LogRecordLimit. Other values are kept as they are, except what JSON cannot write as is (a bigint
 * becomes its digits, a Date its ISO time, an Error its name and message).
 */
export function redact(value: unknown): unknown {
  return new RecordBudget().copy(value, 0);
}

/** A log message: one bounded string. */
export function boundMessage(message: string): string {
  return truncateText(message, LogRecordLimit.valueBytes);
}

/** Walks one record, spending its byte budget as it copies. */
class RecordBudget {
  private left: number = LogRecordLimit.recordBytes;

  copy(value: unknown, depth: number): unknown {
    if (this.left <= 0) return TRUNCATED;
    if (value instanceof Uint8Array) return this.spent(REDACTED);
    if (typeof value === 'string') return this.text(value);
    if (typeof value === 'bigint') return this.text(value.toString());
    if (value === null || typeof value !== 'object') return this.spent(value, String(value).length);
    if (value instanceof Date) return this.text(Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString());
    if (depth > LogRecordLimit.depth) return this.spent(TRUNCATED);
    if (value instanceof Error) return this.entries([['name', value.name], ['message', value.message]], depth);
    if (Array.isArray(value)) return this.items(value, depth);
    return this.entries(Object.entries(value), depth);
  }

  private items(values: readonly unknown[], depth: number): unknown[] {
    this.left -= 2;
    const out: unknown[] = [];
    for (const item of values) {
      if (out.length === LogRecordLimit.entries || this.left <= 0) {
        out.push(`… ${values.length - out.length} more`);
        break;
      }
      out.push(this.copy(item, depth + 1));
    }
    return out;
  }

  private entries(entries: readonly (readonly [string, unknown])[], depth: number): Record<string, unknown> {
    this.left -= 2;
    // fromEntries, not assignment: a key such as "__proto__" must stay a plain entry.
    const out: [string, unknown][] = [];
    for (const [key, inner] of entries) {
      if (out.length === LogRecordLimit.entries || this.left <= 0) {
        out.push(['…', `${entries.length - out.length} more`]);
        break;
      }
      out.push([this.text(key), isSecretKey(key) ? this.spent(REDACTED) : this.copy(inner, depth + 1)]);
    }
    return Object.fromEntries(out);
  }

  private text(value: string): string {
    const cap = Math.min(LogRecordLimit.valueBytes, this.left);
    // Too little budget left for the marker: a value that does not fit whole is dropped.
    if (cap < MIN_CAP_BYTES && (value.length > cap || utf8Length(value) > cap)) return this.spent(TRUNCATED);
    const shown = truncateText(value, Math.max(cap, MIN_CAP_BYTES));
    return this.spent(shown, utf8Length(shown));
  }

  /** Charges a written value: its text, plus the quotes or separator around it. */
  private spent<T>(value: T, bytes = String(value).length): T {
    this.left -= bytes + 2;
    return value;
  }
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !OBJECT_NAME_KEYS.has(key);
}
