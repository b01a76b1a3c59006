import { expect } from 'chai';
import fc from 'fast-check';
import {
  compareStrings,
  describeDiff,
  diffObjectVersions,
  isEmptyDiff,
  sameObjectVersions,
  sortObjectVersions,
  type ObjectVersion,
} from '../../../src/domain/object-versions.js';
import { objectVersions } from '../../support/domain-arbitraries.js';

const v = (id: string, version: string): ObjectVersion => ({ id, version });

/** The last version given for each id: the reference reading of "a repeated id keeps its last version". */
function lastById(versions: readonly ObjectVersion[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const { id, version } of versions) map.set(id, version);
  return map;
}

describe('domain/object-versions', () => {
  describe('compareStrings', () => {
    const cases: Array<[string, string, number]> = [
      ['a', 'b', -1],
      ['b', 'a', 1],
      ['a', 'a', 0],
      ['', 'a', -1],
      ['B', 'a', -1], // code-unit order: upper case first, unlike localeCompare
      ['a', 'a/b', -1],
      ['Z', '_', -1],
    ];
    for (const [a, b, expected] of cases) {
      it(`orders "${a}" vs "${b}" as ${expected} by code unit`, () => {
        expect(compareStrings(a, b)).to.equal(expected);
      });
    }

    it('is antisymmetric and agrees with the < operator (property)', () => {
      fc.assert(
        fc.property(fc.string(), fc.string(), (a, b) => {
          expect(compareStrings(a, b)).to.equal(-compareStrings(b, a) || 0);
          expect(compareStrings(a, b) < 0).to.equal(a < b);
          expect(compareStrings(a, b) === 0).to.equal(a === b);
        }),
      );
    });
  });

  describe('sortObjectVersions', () => {
    it('sorts by id in code-unit order', () => {
      expect(sortObjectVersions([v('secret/b', '1'), v('Secret/c', '2'), v('secret/a', '3')])).to.deep.equal([
        v('Secret/c', '2'),
        v('secret/a', '3'),
        v('secret/b', '1'),
      ]);
    });

    it('keeps the last version of a repeated id', () => {
      expect(sortObjectVersions([v('a', '1'), v('b', '1'), v('a', '2')])).to.deep.equal([v('a', '2'), v('b', '1')]);
    });

    it('returns an empty list for no versions', () => {
      expect(sortObjectVersions([])).to.deep.equal([]);
    });

    it('gives a sorted list back as an equal new list, and sorts a repeated id in a sorted-looking list', () => {
      fc.assert(
        fc.property(objectVersions, (versions) => {
          const sorted = sortObjectVersions(versions);
          const again = sortObjectVersions(sorted);
          expect(again).to.deep.equal(sorted);
          expect(again).to.not.equal(sorted);
        }),
      );
      expect(sortObjectVersions([v('a', '1'), v('a', '2'), v('b', '1')])).to.deep.equal([v('a', '2'), v('b', '1')]);
    });

    it('does not modify its input', () => {
      const input = [v('b', '1'), v('a', '1')];
      sortObjectVersions(input);
      expect(input).to.deep.equal([v('b', '1'), v('a', '1')]);
    });

    it('returns ids strictly increasing with the last version of each id (property)', () => {
      fc.assert(
        fc.property(objectVersions, (versions) => {
          const sorted = sortObjectVersions(versions);
          for (let i = 1; i < sorted.length; i++) expect(compareStrings(sorted[i - 1]!.id, sorted[i]!.id)).to.equal(-1);
          expect(new Map(sorted.map((x) => [x.id, x.version]))).to.deep.equal(lastById(versions));
        }),
      );
    });

    it('is idempotent and independent of input order when ids are unique (property)', () => {
      fc.assert(
        fc.property(objectVersions.map(sortObjectVersions), fc.func(fc.integer()), (unique, key) => {
          const shuffled = [...unique].sort((a, b) => key(a.id) - key(b.id));
          expect(sortObjectVersions(shuffled)).to.deep.equal(unique);
          expect(sortObjectVersions(unique)).to.deep.equal(unique);
        }),
      );
    });
  });

  describe('diffObjectVersions', () => {
    it('reports added, removed and changed objects', () => {
      const diff = diffObjectVersions([v('a', '1'), v('b', '1'), v('c', '1')], [v('c', '1'), v('b', '2'), v('d', '1')]);
      expect(diff).to.deep.equal({
        added: [v('d', '1')],
        removed: [v('a', '1')],
        changed: [{ id: 'b', from: '1', to: '2' }],
      });
    });

    it('is empty for a list and its copy, whatever the list (repeated ids included)', () => {
      fc.assert(
        fc.property(objectVersions, (versions) => {
          expect(isEmptyDiff(diffObjectVersions(versions, versions.map(({ id, version }) => ({ id, version }))))).to.equal(true);
        }),
      );
    });

    it('is empty for the same versions in another order', () => {
      expect(isEmptyDiff(diffObjectVersions([v('a', '1'), v('b', '2')], [v('b', '2'), v('a', '1')]))).to.equal(true);
    });

    it('treats everything as added on first mount', () => {
      const diff = diffObjectVersions([], [v('b', '1'), v('a', '1')]);
      expect(diff).to.deep.equal({ added: [v('a', '1'), v('b', '1')], removed: [], changed: [] });
    });

    it('treats a change to an empty version as a change', () => {
      expect(diffObjectVersions([v('a', '1')], [v('a', '')]).changed).to.deep.equal([{ id: 'a', from: '1', to: '' }]);
    });

    it('is empty when a list is diffed with itself (property)', () => {
      fc.assert(
        fc.property(objectVersions, (versions) => {
          expect(isEmptyDiff(diffObjectVersions(versions, versions))).to.equal(true);
        }),
      );
    });

    it('splits the ids of both lists into unchanged, added, removed and changed, without overlap (property)', () => {
      fc.assert(
        fc.property(objectVersions, objectVersions, (before, after) => {
          const diff = diffObjectVersions(before, after);
          const old = lastById(before);
          const next = lastById(after);
          const added = diff.added.map((x) => x.id);
          const removed = diff.removed.map((x) => x.id);
          const changed = diff.changed.map((x) => x.id);
          const unchanged = [...next.keys()].filter((id) => old.get(id) === next.get(id));
          const all = [...added, ...removed, ...changed, ...unchanged];
          expect(new Set(all).size, 'no id in two groups').to.equal(all.length);
          expect(new Set(all)).to.deep.equal(new Set([...old.keys(), ...next.keys()]));
          expect(new Set(added)).to.deep.equal(new Set([...next.keys()].filter((id) => !old.has(id))));
          expect(new Set(removed)).to.deep.equal(new Set([...old.keys()].filter((id) => !next.has(id))));
          for (const a of diff.added) expect(a.version).to.equal(next.get(a.id));
          for (const r of diff.removed) expect(r.version).to.equal(old.get(r.id));
          for (const c of diff.changed) {
            expect(c.from).to.equal(old.get(c.id));
            expect(c.to).to.equal(next.get(c.id));
            expect(c.from).to.not.equal(c.to);
          }
          for (const group of [added, removed, changed]) expect(group).to.deep.equal([...group].sort(compareStrings));
        }),
      );
    });

    it('swaps added and removed and reverses changes when the arguments are swapped (property)', () => {
      fc.assert(
        fc.property(objectVersions, objectVersions, (a, b) => {
          const forward = diffObjectVersions(a, b);
          const backward = diffObjectVersions(b, a);
          expect(backward.added).to.deep.equal(forward.removed);
          expect(backward.removed).to.deep.equal(forward.added);
          expect(backward.changed).to.deep.equal(forward.changed.map((c) => ({ id: c.id, from: c.to, to: c.from })));
        }),
      );
    });
  });

  describe('isEmptyDiff', () => {
    it('is true only when nothing was added, removed or changed', () => {
      expect(isEmptyDiff({ added: [], removed: [], changed: [] })).to.equal(true);
      expect(isEmptyDiff({ added: [v('a', '1')], removed: [], changed: [] })).to.equal(false);
      expect(isEmptyDiff({ added: [], removed: [v('a', '1')], changed: [] })).to.equal(false);
      expect(isEmptyDiff({ added: [], removed: [], changed: [{ id: 'a', from: '1', to: '2' }] })).to.equal(false);
    });
  });

  describe('sameObjectVersions', () => {
    it('is true exactly when both lists hold the same ids and versions in the same order', () => {
      fc.assert(
        fc.property(objectVersions, objectVersions, (a, b) => {
          const copy = a.map(({ id, version }) => ({ id, version }));
          expect(sameObjectVersions(a, copy)).to.equal(true);
          expect(sameObjectVersions(a, b)).to.equal(JSON.stringify(a) === JSON.stringify(b));
        }),
      );
    });

    it('tells apart lists that differ in one version, in order or in length', () => {
      expect(sameObjectVersions([v('a', '1'), v('b', '1')], [v('a', '1'), v('b', '2')])).to.equal(false);
      expect(sameObjectVersions([v('a', '1'), v('b', '1')], [v('b', '1'), v('a', '1')])).to.equal(false);
      expect(sameObjectVersions([v('a', '1')], [v('a', '1'), v('b', '1')])).to.equal(false);
      expect(sameObjectVersions([], [])).to.equal(true);
    });
  });

  describe('describeDiff', () => {
    it('names changes first, then additions, then removals', () => {
      const diff = diffObjectVersions([v('secret/a', 'v1'), v('cert/c', 'v1')], [v('secret/a', 'v2'), v('key/b', 'v1')]);
      expect(describeDiff(diff)).to.equal('secret/a v1 -> v2, +key/b v1, -cert/c');
    });

    it('is empty text for an empty diff', () => {
      expect(describeDiff({ added: [], removed: [], changed: [] })).to.equal('');
    });
  });
});
