import fc from 'fast-check';
import type { ObjectVersion } from '../../src/domain/object-versions.js';

/**
 * Shared fast-check arbitraries for the pure domain. They deliberately draw from small alphabets so
 * collisions (same id, same path, same key) happen often enough to exercise the interesting branches.
 */

/** Characters that matter to path rules: separators, dots, ordinary and multi-byte letters. */
const PATH_CHARS = ['a', 'b', 'z', '0', '-', '_', '.', '/', 'é', '日', '~'];

/** A free-form path text (valid or not) built from the characters path rules care about. */
export const anyPathText: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...PATH_CHARS), { maxLength: 24 })
  .map((chars) => chars.join(''));

/** One path element, biased towards the tricky ones ('', '.', '..', '..x', very long names). */
export const pathElement: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'key', 'tls.crt', '.hidden', 'x..', '...', '..data', '..x', 'é', '日本') },
  { weight: 2, arbitrary: fc.constantFrom('', '.', '..') },
  { weight: 1, arbitrary: fc.constantFrom('n'.repeat(255), 'n'.repeat(256), 'é'.repeat(128), 'é'.repeat(127), '😀'.repeat(63), '😀'.repeat(64), '\ud800'.repeat(86)) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9._-]{1,12}$/) },
);

/** A path assembled from elements, sometimes absolute; roughly half of them are valid payload paths. */
export const assembledPath: fc.Arbitrary<string> = fc
  .tuple(fc.boolean(), fc.array(pathElement, { minLength: 1, maxLength: 5 }))
  .map(([absolute, elements]) => `${absolute ? '/' : ''}${elements.join('/')}`);

/** A path that follows every payload rule: relative, normalised, no `..`, short elements. */
export const validPayloadPath: fc.Arbitrary<string> = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9_][a-z0-9._-]{0,10}$/),
    fc.array(fc.stringMatching(/^[a-z0-9_.-]{1,10}$/).filter((e) => e !== '.' && e !== '..'), { maxLength: 3 }),
  )
  .map(([first, rest]) => [first, ...rest].join('/'));

/** Object ids from a small pool so that two version lists overlap. */
export const objectId: fc.Arbitrary<string> = fc.constantFrom(
  'secret/db',
  'secret/api',
  'key/signing',
  'cert/tls',
  'Secret/Upper',
  'a',
  'b',
  'é',
);

export const objectVersion: fc.Arbitrary<ObjectVersion> = fc.record({
  id: objectId,
  version: fc.constantFrom('v1', 'v2', 'v3', '', '2026-01-01T00:00:00Z'),
});

export const objectVersions: fc.Arbitrary<ObjectVersion[]> = fc.array(objectVersion, { maxLength: 10 });

/** A flat string map whose keys and values include JSON-sensitive characters. */
export const stringMap: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('<b>', 'a&b', 'z', 'A', '\u2028', '__proto__', 'constructor')),
  fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('<script>', 'x&y', '>', '\u2029', '"quoted"', '\\')),
  { maxKeys: 8, noNullPrototype: true },
);

/** Random sources for schedule computations: the extremes and anything in between. */
export const randomValue: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 0.5, 0.999999999),
  fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
);
