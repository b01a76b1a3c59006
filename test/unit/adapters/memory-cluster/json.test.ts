import { expect } from 'chai';
import fc from 'fast-check';
import { applyMergePatch, createMergePatch, jsonCopy, jsonEqual, type JsonObject, type JsonValue } from '../../../../src/adapters/memory-cluster/json.js';

/** JSON as it travels (through text): -0 arrives as 0. */
const anyJson = fc.jsonValue({ maxDepth: 3 }).map((value) => jsonCopy(value)) as fc.Arbitrary<JsonValue>;
/** JSON objects without null values: the documents a merge patch can produce exactly. */
const nullFreeObject = fc.dictionary(
  fc.string({ maxLength: 4 }),
  anyJson.filter((value) => !JSON.stringify(value).includes('null')),
  { maxKeys: 5 },
) as fc.Arbitrary<JsonObject>;

describe('JSON merge patch (RFC 7386)', () => {
  // The examples of RFC 7386 appendix A: target, patch, result.
  const rfcExamples: [JsonValue, JsonValue, JsonValue][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of rfcExamples) {
    it(`turns ${JSON.stringify(target)} patched with ${JSON.stringify(patch)} into ${JSON.stringify(result)}`, () => {
      expect(applyMergePatch(target, patch)).to.deep.equal(result);
    });
  }

  it('is idempotent: applying a patch twice equals applying it once', () => {
    fc.assert(
      fc.property(anyJson, anyJson, (target, patch) => {
        const once = applyMergePatch(target, patch);
        expect(applyMergePatch(once, patch)).to.deep.equal(once);
      }),
    );
  });

  it('never mutates the target or the patch', () => {
    fc.assert(
      fc.property(anyJson, anyJson, (target, patch) => {
        const [targetBefore, patchBefore] = [structuredClone(target), structuredClone(patch)];
        applyMergePatch(target, patch);
        expect(target).to.deep.equal(targetBefore);
        expect(patch).to.deep.equal(patchBefore);
      }),
    );
  });

  it('computes a patch that turns one object into another', () => {
    fc.assert(
      fc.property(nullFreeObject, nullFreeObject, (from, to) => {
        expect(applyMergePatch(from, createMergePatch(from, to))).to.deep.equal(to);
      }),
    );
  });

  it('computes an empty patch between equal objects', () => {
    fc.assert(
      fc.property(nullFreeObject, (object) => {
        expect(createMergePatch(object, jsonCopy(object))).to.deep.equal({});
      }),
    );
  });

  it('treats a "__proto__" key as data', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": "yes"}}') as JsonObject;
    const result = applyMergePatch({}, patch) as JsonObject;
    expect(Object.getPrototypeOf(result)).to.equal(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    expect(jsonEqual(result, patch)).to.equal(true);
  });
});
