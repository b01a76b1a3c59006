/**
 * Freezes a mapped object and everything it holds (plain objects and arrays), so that a source can hand
 * the same object to every reader: a reader that tries to change it is refused (TypeError in strict
 * code) instead of changing what the next reader gets.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}
