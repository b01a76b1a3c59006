import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import {
  DEFAULT_FILE_MODE,
  MAX_PATH_ELEMENT_LENGTH,
  MAX_PATH_LENGTH,
  normalizePath,
  sameBytes,
  samePayload,
  stalePaths,
  topLevelNames,
  validateFilePath,
  validatePayload,
  type SecretFile,
} from '../../../src/domain/secret-payload.js';
import { aFile } from '../../support/builders.js';
import { anyPathText, assembledPath, validPayloadPath } from '../../support/domain-arbitraries.js';
import { codeOf } from '../../support/domain-error-code.js';


function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * A reference reading of the provider API path rules (wire.md section 2), written independently of
 * normalizePath: non-empty, relative, normalised (no empty, `.` or `..` element), first element not
 * starting with `..`, at most 4096 bytes, each element at most 255 bytes; NUL is never a valid name.
 */
function referenceValid(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\0')) return false;
  if (utf8Length(path) > 4096) return false;
  const elements = path.split('/');
  if (elements.some((e) => e === '' || e === '.' || e === '..')) return false;
  if (elements[0]!.startsWith('..')) return false;
  return elements.every((e) => utf8Length(e) <= 255);
}

const bytes = (...values: number[]) => new Uint8Array(values);

describe('domain/secret-payload', () => {
  it('defaults file modes to 0644 (decimal 420) and limits paths to 4096 and elements to 255', () => {
    expect(DEFAULT_FILE_MODE).to.equal(420);
    expect(MAX_PATH_LENGTH).to.equal(4096);
    expect(MAX_PATH_ELEMENT_LENGTH).to.equal(255);
  });

  describe('validateFilePath', () => {
    const accepted: Array<[string, string]> = [
      ['a single name', 'password'],
      ['a nested path', 'db/credentials/password'],
      ['a name with dots inside', 'tls.crt'],
      ['a hidden file', '.hidden'],
      ['a name ending in two dots', 'x..'],
      ['a later element starting with ..', 'a/..b'],
      ['a later element of three dots', 'a/...'],
      ['a name of 255 characters', 'n'.repeat(255)],
      ['a path of exactly 4096 characters', [...Array<string>(15).fill('n'.repeat(255)), 'n'.repeat(128), 'n'.repeat(127)].join('/')],
      ['a unicode name within 255 bytes', 'é'.repeat(127)],
      ['an astral-plane name within 255 bytes', '😀'.repeat(63)],
      ['a name with spaces', 'my secret'],
    ];
    for (const [name, path] of accepted) {
      it(`accepts ${name}`, () => {
        expect(() => validateFilePath(path)).to.not.throw();
      });
    }

    const rejected: Array<[string, string]> = [
      ['an empty path', ''],
      ['the target itself (.)', '.'],
      ['an absolute path', '/etc/passwd'],
      ['the root', '/'],
      ['a path containing ..', 'a/../b'],
      ['a path ending in ..', 'a/..'],
      ['the parent (..)', '..'],
      ['a path starting with ../', '../a'],
      ['a first element starting with .. (..data)', '..data/key'],
      ['a first element starting with .. (..a)', '..a'],
      ['a path with a doubled slash (a//b)', 'a//b'],
      ['a path with a dot element (a/./b)', 'a/./b'],
      ['a path with a trailing slash (a/)', 'a/'],
      ['a path starting with ./', './a'],
      ['a path ending in /.', 'a/.'],
      ['a path longer than 4096 characters', `${'n'.repeat(200)}/`.repeat(21).slice(0, 4097)],
      ['a path element longer than 255 characters', `a/${'n'.repeat(256)}`],
      ['a path element longer than 255 bytes in UTF-8', 'é'.repeat(128)],
      ['a path element of astral characters longer than 255 bytes', `a/${'😀'.repeat(64)}`],
      ['a path longer than 4096 bytes in UTF-8', [...Array<string>(18).fill('é'.repeat(120))].join('/')],
      ['a path with a NUL character', 'a\0b'],
    ];
    for (const [name, path] of rejected) {
      it(`rejects ${name} with InvalidPayloadPath`, () => {
        expect(codeOf(() => validateFilePath(path))).to.equal('InvalidPayloadPath');
      });
    }

    it('keeps the error message short and printable for huge or binary paths', () => {
      try {
        validateFilePath(`\u0001${'x'.repeat(5000)}`);
        expect.fail('should have thrown');
      } catch (error) {
        expect(error).to.be.instanceOf(DomainError);
        expect((error as DomainError).message.length).to.be.below(300);
        expect((error as DomainError).message).to.not.match(/[\u0000-\u001f]/);
      }
    });

    it('accepts exactly the paths the reference reading of the rules accepts (property)', () => {
      fc.assert(
        fc.property(fc.oneof(assembledPath, anyPathText, validPayloadPath, fc.string({ maxLength: 10 })), (path) => {
          const code = codeOf(() => validateFilePath(path));
          if (referenceValid(path)) expect(code, `should accept ${JSON.stringify(path)}`).to.equal(undefined);
          else expect(code, `should reject ${JSON.stringify(path)}`).to.equal('InvalidPayloadPath');
        }),
        { numRuns: 2000 },
      );
    });

    it('accepts every path built by the valid-path generator (property)', () => {
      fc.assert(
        fc.property(validPayloadPath, (path) => {
          expect(() => validateFilePath(path)).to.not.throw();
        }),
      );
    });
  });

  describe('normalizePath', () => {
    // The examples of Go's path.Clean.
    const cases: Array<[string, string]> = [
      ['', '.'],
      ['abc', 'abc'],
      ['abc/def', 'abc/def'],
      ['.', '.'],
      ['..', '..'],
      ['../..', '../..'],
      ['../../abc', '../../abc'],
      ['/abc', '/abc'],
      ['/', '/'],
      ['abc/', 'abc'],
      ['abc/def/', 'abc/def'],
      ['./', '.'],
      ['../', '..'],
      ['/abc/', '/abc'],
      ['abc//def//ghi', 'abc/def/ghi'],
      ['//abc', '/abc'],
      ['///abc', '/abc'],
      ['//abc//', '/abc'],
      ['abc//', 'abc'],
      ['abc/./def', 'abc/def'],
      ['/./abc/def', '/abc/def'],
      ['abc/.', 'abc'],
      ['abc/def/ghi/../jkl', 'abc/def/jkl'],
      ['abc/def/../ghi/../jkl', 'abc/jkl'],
      ['abc/def/..', 'abc'],
      ['abc/def/../..', '.'],
      ['/abc/def/../..', '/'],
      ['abc/def/../../..', '..'],
      ['/abc/def/../../..', '/'],
      ['abc/def/../../../ghi/jkl/../../../mno', '../../mno'],
      ['abc/./../def', 'def'],
      ['abc//./../def', 'def'],
      ['abc/../../././../def', '../../def'],
      ['/..', '/'],
    ];
    for (const [input, expected] of cases) {
      it(`cleans "${input}" to "${expected}" like Go's path.Clean`, () => {
        expect(normalizePath(input)).to.equal(expected);
      });
    }

    it('is idempotent (property)', () => {
      fc.assert(
        fc.property(fc.oneof(anyPathText, assembledPath, fc.string()), (path) => {
          const once = normalizePath(path);
          expect(normalizePath(once)).to.equal(once);
        }),
        { numRuns: 1000 },
      );
    });

    it('returns a path without empty or . elements and with .. only as a leading run (property)', () => {
      fc.assert(
        fc.property(fc.oneof(anyPathText, assembledPath), (path) => {
          const clean = normalizePath(path);
          if (clean === '.' || clean === '/') return;
          const elements = (clean.startsWith('/') ? clean.slice(1) : clean).split('/');
          expect(elements).to.not.include('');
          expect(elements).to.not.include('.');
          const firstOther = elements.findIndex((e) => e !== '..');
          if (firstOther >= 0) expect(elements.slice(firstOther)).to.not.include('..');
          if (clean.startsWith('/')) expect(elements).to.not.include('..');
          expect(clean.startsWith('/')).to.equal(path.startsWith('/'));
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('validatePayload', () => {
    it('returns the files sorted by path', () => {
      const result = validatePayload([aFile('b', '2'), aFile('a/z', '1'), aFile('a.txt', '3')]);
      expect(result.map((f) => f.path)).to.deep.equal(['a.txt', 'a/z', 'b']);
    });

    it('replaces an unset mode (0) by the default 0644 and keeps explicit modes', () => {
      const result = validatePayload([aFile('a', 'x', 0), aFile('b', 'y', 0o600), aFile('c', 'z', 0o777)]);
      expect(result.map((f) => f.mode)).to.deep.equal([420, 0o600, 0o777]);
    });

    it('keeps the contents of each file', () => {
      const contents = bytes(0, 1, 255);
      expect(validatePayload([{ path: 'bin', mode: 0, contents }])[0]!.contents).to.deep.equal(contents);
    });

    it('accepts an empty payload (a provider that wrote its own files)', () => {
      expect(validatePayload([])).to.deep.equal([]);
    });

    it('accepts a name that is a prefix of another name but not its directory', () => {
      expect(validatePayload([aFile('a', '1'), aFile('ab/c', '2'), aFile('a.d/e', '3')])).to.have.length(3);
    });

    it('rejects duplicate paths with DuplicatePayloadPath', () => {
      expect(codeOf(() => validatePayload([aFile('a/b', '1'), aFile('c', '2'), aFile('a/b', '3')]))).to.equal('DuplicatePayloadPath');
    });

    it('rejects a path that is also the parent directory of another with DuplicatePayloadPath', () => {
      expect(codeOf(() => validatePayload([aFile('a', '1'), aFile('a/b', '2')]))).to.equal('DuplicatePayloadPath');
      expect(codeOf(() => validatePayload([aFile('a/b/c', '2'), aFile('a/b', '1')]))).to.equal('DuplicatePayloadPath');
      expect(codeOf(() => validatePayload([aFile('x/y/z/w', '2'), aFile('x', '1')]))).to.equal('DuplicatePayloadPath');
    });

    it('rejects the whole payload when any one path is invalid, with InvalidPayloadPath', () => {
      expect(codeOf(() => validatePayload([aFile('ok', '1'), aFile('../escape', '2')]))).to.equal('InvalidPayloadPath');
    });

    const badModes: Array<[string, number]> = [
      ['negative', -1],
      ['above 0777', 0o1000],
      ['with setuid bits', 0o4755],
      ['fractional', 420.5],
      ['NaN', Number.NaN],
      ['infinite', Number.POSITIVE_INFINITY],
    ];
    for (const [name, mode] of badModes) {
      it(`rejects a ${name} mode with InvalidFileMode`, () => {
        expect(codeOf(() => validatePayload([aFile('a', 'x', mode)]))).to.equal('InvalidFileMode');
      });
    }

    it('keeps every file once, sorted, with modes defaulted, for any valid payload (property)', () => {
      const payload = fc
        .uniqueArray(validPayloadPath, { maxLength: 8 })
        .filter((paths) => !paths.some((p) => paths.some((q) => q.startsWith(`${p}/`))))
        .chain((paths) =>
          fc.tuple(...paths.map((path) => fc.record({ path: fc.constant(path), mode: fc.integer({ min: 0, max: 0o777 }), contents: fc.uint8Array({ maxLength: 8 }) }))),
        );
      fc.assert(
        fc.property(payload, (files: SecretFile[]) => {
          const result = validatePayload(files);
          expect(result.map((f) => f.path)).to.deep.equal(files.map((f) => f.path).sort());
          for (const file of result) {
            const original = files.find((f) => f.path === file.path)!;
            expect(file.mode).to.equal(original.mode === 0 ? DEFAULT_FILE_MODE : original.mode);
            expect(file.contents).to.equal(original.contents);
          }
        }),
      );
    });
  });

  describe('stalePaths', () => {
    it('lists mounted paths missing from the next payload, sorted', () => {
      expect(stalePaths(['c', 'a', 'b/x', 'd'], ['a', 'd'])).to.deep.equal(['b/x', 'c']);
    });

    it('is empty when nothing was mounted or nothing disappeared', () => {
      expect(stalePaths([], ['a'])).to.deep.equal([]);
      expect(stalePaths(['a'], ['a', 'b'])).to.deep.equal([]);
    });

    it('lists a path once even when it was listed twice', () => {
      expect(stalePaths(['a', 'a'], [])).to.deep.equal(['a']);
    });

    it('is the sorted set difference mounted minus next (property)', () => {
      const paths = fc.array(fc.constantFrom('a', 'b', 'c/d', 'c', 'e/f/g', 'Z'), { maxLength: 8 });
      fc.assert(
        fc.property(paths, paths, (mounted, next) => {
          const stale = stalePaths(mounted, next);
          expect(stale).to.deep.equal([...new Set(mounted.filter((p) => !next.includes(p)))].sort());
        }),
      );
    });
  });

  describe('topLevelNames', () => {
    it('lists each first path element once, sorted', () => {
      expect(topLevelNames(['b/x', 'a', 'b/y/z', 'c/d'])).to.deep.equal(['a', 'b', 'c']);
    });

    it('is empty for no paths', () => {
      expect(topLevelNames([])).to.deep.equal([]);
    });
  });

  describe('sameBytes', () => {
    const cases: Array<[string, Uint8Array, Uint8Array, boolean]> = [
      ['equal bytes', bytes(1, 2, 3), bytes(1, 2, 3), true],
      ['two empty arrays', bytes(), bytes(), true],
      ['different lengths', bytes(1, 2), bytes(1, 2, 3), false],
      ['a differing last byte', bytes(1, 2, 3), bytes(1, 2, 4), false],
      ['a differing first byte', bytes(0, 2, 3), bytes(1, 2, 3), false],
    ];
    for (const [name, a, b, expected] of cases) {
      it(`is ${expected} for ${name}`, () => {
        expect(sameBytes(a, b)).to.equal(expected);
      });
    }

    it('agrees with element-wise deep equality (property)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }), (a, b) => {
          expect(sameBytes(a, b)).to.equal(a.length === b.length && a.every((x, i) => x === b[i]));
          expect(sameBytes(a, a.slice())).to.equal(true);
        }),
      );
    });
  });

  describe('samePayload', () => {
    const payload = [aFile('a', 'one'), aFile('b/c', 'two', 0o600)];

    it('is true for the same files in any order', () => {
      expect(samePayload(payload, [...payload].reverse())).to.equal(true);
      expect(samePayload([], [])).to.equal(true);
    });

    const different: Array<[string, SecretFile[]]> = [
      ['a mode differs', [aFile('a', 'one'), aFile('b/c', 'two', 0o644)]],
      ['the bytes differ', [aFile('a', 'one'), aFile('b/c', 'twO', 0o600)]],
      ['a file is missing', [aFile('a', 'one')]],
      ['a file is extra', [...payload, aFile('d', '')]],
      ['a path differs', [aFile('a', 'one'), aFile('b/d', 'two', 0o600)]],
    ];
    for (const [name, other] of different) {
      it(`is false when ${name}`, () => {
        expect(samePayload(payload, other)).to.equal(false);
        expect(samePayload(other, payload)).to.equal(false);
      });
    }
  });
});
