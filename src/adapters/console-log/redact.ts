export const REDACTED = '[REDACTED]';

/** Field names whose values are secret material wherever they appear in a log record. */
const SECRET_KEY = /(secret|token|password|contents|^data$|credential|private)/i;

/**
 * A deep copy of a log record with secret material replaced: values under secret-looking keys, and
 * byte arrays anywhere (file contents and Secret data are bytes). Other values are kept as they are.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return REDACTED;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[TRUNCATED]';
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : redact(inner, depth + 1);
  return out;
}
