export const REDACTED = '[REDACTED]';

/** Field names whose values are secret material wherever they appear in a log record. */
const SECRET_KEY = /(secret|token|password|contents|^data$|credential|private)/i;

/** Names that match SECRET_KEY but only name Kubernetes objects (the class, a synced Secret): kept for operators. */
const OBJECT_NAME_KEYS = new Set(['secretProviderClass', 'secretProviderClassName', 'secretName']);

/**
 * A deep copy of a log record with secret material replaced: values under secret-looking keys, and
 * byte arrays anywhere (file contents and Secret data are bytes). Other values are kept as they are,
 * except what JSON cannot write as is (a bigint becomes its digits, a Date its ISO time).
 */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return REDACTED;
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (depth > 8) return '[TRUNCATED]';
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = isSecretKey(key) ? REDACTED : redact(inner, depth + 1);
  return out;
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !OBJECT_NAME_KEYS.has(key);
}
