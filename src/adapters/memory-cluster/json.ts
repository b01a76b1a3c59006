/** JSON values as the API server stores them, and the RFC 7386 merge-patch algebra over them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A deep copy through JSON text: drops `undefined` fields exactly as a round trip through the API
 * server would, and shares nothing with the input.
 */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}

/**
 * RFC 7386 JSON merge patch: objects merge key by key, `null` removes a key, anything else (arrays
 * included) replaces. Never mutates its inputs.
 */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return jsonCopy(patch);
  const result: JsonObject = isJsonObject(target) ? jsonCopy(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, applyMergePatch(own(result, key), value));
  }
  return result;
}

/**
 * The merge patch that turns `from` into `to` (what `kubectl apply` sends for custom resources).
 * Exact for any `to` without null values, which a merge patch cannot express.
 */
export function createMergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) setOwn(patch, key, null);
  for (const [key, value] of Object.entries(to)) {
    const before = own(from, key);
    if (Object.hasOwn(from, key) && jsonEqual(before, value)) continue;
    if (isJsonObject(before) && isJsonObject(value)) {
      const nested = createMergePatch(before, value);
      if (Object.keys(nested).length > 0) setOwn(patch, key, nested);
    } else {
      setOwn(patch, key, jsonCopy(value));
    }
  }
  return patch;
}

/** Reads only own properties, so `__proto__` never resolves to Object.prototype. */
function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Assigns as an own data property, so a key such as `__proto__` is data, not a prototype change. */
function setOwn(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
