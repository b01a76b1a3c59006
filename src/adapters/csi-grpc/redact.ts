import { utf8Length } from '../../domain/bounded-text.js';
import { VolumeContextKey } from '../../domain/volume-context.js';
import type { LogFields } from '../../ports/logger.js';

export const REDACTED = '[REDACTED]';

/** Longest string a request description shows as is; longer ones are shown by their size. */
export const SHOWN_VALUE_BYTES = 128;

/** Fields whose every value is secret (keys stay: they name what was sent, not what it is). */
const SECRET_MAPS = new Set(['secrets']);
/** Entries that are secret wherever they appear (the token JSON may come in volume_context). */
const SECRET_ENTRIES = new Set<string>([VolumeContextKey.serviceAccountTokens]);

/**
 * The volume a CSI call is about, for the line logged per call: its id and target path, nothing a pod
 * chose (volume_context values reach the log only through `describeRequest`, at debug level).
 */
export function callSubject(request: unknown): LogFields {
  if (typeof request !== 'object' || request === null) return {};
  const { volumeId, targetPath } = request as { volumeId?: unknown; targetPath?: unknown };
  return {
    ...(typeof volumeId === 'string' && volumeId !== '' ? { volumeId } : {}),
    ...(typeof targetPath === 'string' && targetPath !== '' ? { targetPath } : {}),
  };
}

/**
 * A CSI request as a debug line shows it: every key, each string value when it is at most
 * SHOWN_VALUE_BYTES and `[N bytes]` otherwise (a volume-context value may be megabytes), every value of
 * a `secrets` map and every `csi.storage.k8s.io/serviceAccount.tokens` entry "[REDACTED]", and binary
 * data "[REDACTED]" too, since nothing in a CSI request needs it in a log.
 */
export function describeRequest(request: unknown): unknown {
  if (Array.isArray(request)) return request.map(describeRequest);
  if (request instanceof Uint8Array) return REDACTED;
  if (typeof request === 'string') return describeText(request);
  if (typeof request !== 'object' || request === null) return request;
  // fromEntries, not assignment: a key such as "__proto__" must stay a plain entry.
  return Object.fromEntries(
    Object.entries(request).map(([key, field]) => {
      if (SECRET_ENTRIES.has(key)) return [key, REDACTED];
      if (SECRET_MAPS.has(key)) return [key, redactAllValues(field)];
      return [key, describeRequest(field)];
    }),
  );
}

function describeText(text: string): string {
  // A UTF-16 unit is at least one UTF-8 byte: a longer string cannot fit, and is counted once.
  if (text.length <= SHOWN_VALUE_BYTES && utf8Length(text) <= SHOWN_VALUE_BYTES) return text;
  return `[${utf8Length(text)} bytes]`;
}

function redactAllValues(map: unknown): unknown {
  if (map === undefined || map === null) return map;
  if (typeof map !== 'object' || Array.isArray(map)) return REDACTED;
  return Object.fromEntries(Object.keys(map).map((key) => [key, REDACTED]));
}
