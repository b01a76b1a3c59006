/**
 * Freezes a mapped object and everything it holds (plain objects and arrays), so that a source can hand
 * the same object to every reader: a reader that tries to change it is refused (TypeError in strict
 * code) instead of changing what the next reader gets.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}

/**
 * `map` of each object, made once per object and frozen: a watched source hands every reader of one cached
 * version the same mapped object (the watch replaces the cached object when it changes, so a new version is
 * mapped again), and what a reader built from it can be reused while it stays the same object.
 */
export class MappedOnce<R extends object, M> {
  private readonly mapped = new WeakMap<R, M>();

  constructor(private readonly map: (object: R) => M) {}

  of(object: R): M {
    let mapped = this.mapped.get(object);
    if (mapped === undefined) this.mapped.set(object, (mapped = deepFreeze(this.map(object))));
    return mapped;
  }
}
