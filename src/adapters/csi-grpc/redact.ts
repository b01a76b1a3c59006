import { VolumeContextKey } from '../../domain/volume-context.js';

export const REDACTED = '[REDACTED]';

/** Fields whose every value is secret (keys stay: they name what was sent, not what it is). */
const SECRET_MAPS = new Set(['secrets']);
/** Entries that are secret wherever they appear (the token JSON may come in volume_context). */
const SECRET_ENTRIES = new Set<string>([VolumeContextKey.serviceAccountTokens]);

/**
 * A copy of a CSI request safe to log: every value of any `secrets` map and every
 * `csi.storage.k8s.io/serviceAccount.tokens` entry replaced by "[REDACTED]". Non-JSON values
 * (binary data) are replaced too, since nothing in a CSI request needs them in a log.
 */
export function redactRequest(request: unknown): unknown {
  return redactValue(request);
}

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value instanceof Uint8Array) return REDACTED;
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries, not assignment: a key such as "__proto__" must stay a plain entry.
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => {
      if (SECRET_ENTRIES.has(key)) return [key, REDACTED];
      if (SECRET_MAPS.has(key)) return [key, redactAllValues(field)];
      return [key, redactValue(field)];
    }),
  );
}

function redactAllValues(map: unknown): unknown {
  if (map === undefined || map === null) return map;
  if (typeof map !== 'object' || Array.isArray(map)) return REDACTED;
  return Object.fromEntries(Object.keys(map).map((key) => [key, REDACTED]));
}
