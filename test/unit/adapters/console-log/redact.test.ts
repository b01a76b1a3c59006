import { expect } from 'chai';
import fc from 'fast-check';
import { ConsoleLogger } from '../../../../src/adapters/console-log/console-logger.js';
import { REDACTED, redact } from '../../../../src/adapters/console-log/redact.js';

const TOKENS_KEY = 'csi.storage.k8s.io/serviceAccount.tokens';

/** Keys whose values are secret material wherever they appear. */
const SECRET_KEYS = [
  'secrets',
  'token',
  'contents',
  'data',
  'Data',
  'password',
  'clientSecret',
  'credentials',
  'privateKey',
  'serviceAccountTokens',
  'nodePublishSecrets',
  TOKENS_KEY,
];

/** Keys of ordinary log fields (none looks secret). */
const PLAIN_KEYS = ['pod', 'request', 'volume', 'spec', 'items', 'status', 'details', 'target', 'metadata', 'files', 'objects'];

describe('console-log redact', () => {
  describe('keys that hold secret material', () => {
    for (const key of SECRET_KEYS) {
      it(`replaces the value under "${key}", whatever its type`, () => {
        for (const value of ['plain text', { nested: 'x' }, ['a', 'b'], 42, new Uint8Array([1, 2])]) {
          expect(redact({ [key]: value, pod: 'default/app-0' })).to.deep.equal({ [key]: REDACTED, pod: 'default/app-0' });
        }
      });
    }
  });

  describe('keys that only name objects', () => {
    const kept: Array<[string, string]> = [
      ['secretProviderClass', 'app-secrets'],
      ['secretProviderClassName', 'app-secrets'],
      ['secretName', 'app-synced'],
      ['metadata', 'x'],
      ['dataSource', 'x'],
      ['objectName', 'db-password'],
      ['version', 'v2'],
    ];
    for (const [key, value] of kept) {
      it(`keeps "${key}"`, () => {
        expect(redact({ [key]: value })).to.deep.equal({ [key]: value });
      });
    }

    it('keeps the class name in a logged volume context while hiding the tokens', () => {
      const context = { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/pod.name': 'app-0', [TOKENS_KEY]: '{"aud":{"token":"jwt"}}' };
      expect(redact({ request: { volumeContext: context } })).to.deep.equal({
        request: { volumeContext: { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/pod.name': 'app-0', [TOKENS_KEY]: REDACTED } },
      });
    });
  });

  it('redacts at any depth, inside objects and arrays', () => {
    const record = { a: { b: [{ c: { secrets: { password: 'x' } } }, { d: [{ token: 't' }] }] } };
    expect(redact(record)).to.deep.equal({ a: { b: [{ c: { secrets: REDACTED } }, { d: [{ token: REDACTED }] }] } });
  });

  it('redacts byte arrays (Uint8Array and Buffer) under any key', () => {
    const record = { files: [{ path: 'db/password', mode: 0o644, bytes: new Uint8Array([1, 2, 3]) }], raw: Buffer.from('s3cr3t') };
    expect(redact(record)).to.deep.equal({ files: [{ path: 'db/password', mode: 0o644, bytes: REDACTED }], raw: REDACTED });
  });

  it('redacts a byte array given as the whole value', () => {
    expect(redact(new Uint8Array([1]))).to.equal(REDACTED);
  });

  it('keeps primitives, null and undefined as they are', () => {
    expect(redact({ s: 'x', n: 1, b: false, z: null, u: undefined })).to.deep.equal({ s: 'x', n: 1, b: false, z: null, u: undefined });
  });

  it('turns an error into its name and message only', () => {
    const error = Object.assign(new TypeError('bad'), { secrets: { k: 'v' }, extra: 'x' });
    expect(redact({ error })).to.deep.equal({ error: { name: 'TypeError', message: 'bad' } });
  });

  it('cuts records nested deeper than 8 levels', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 12; i++) deep = { next: deep };
    expect(JSON.stringify(redact(deep))).to.contain('[TRUNCATED]').and.not.contain('leaf');
  });

  it('returns a copy and leaves the input alone', () => {
    const input = { secrets: { k: 'v' }, list: [1] };
    const output = redact(input) as { list: number[] };
    expect(input).to.deep.equal({ secrets: { k: 'v' }, list: [1] });
    expect(output.list).not.to.equal(input.list);
  });

  describe('property: a secret never reaches a written line', () => {
    /** A distinctive prefix, so finding it in a line means the secret (or part of it) leaked. */
    const MARKER = 'Zq7Xk9';
    const secretText = fc.string({ maxLength: 30 }).map((rest) => `${MARKER}${rest}`);
    const noise = fc.dictionary(
      fc.constantFrom(...PLAIN_KEYS),
      fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean()),
      { maxKeys: 3 },
    ).filter((record) => !JSON.stringify(record).includes(MARKER));
    const step = fc.oneof(fc.constantFrom(...PLAIN_KEYS), fc.constant('[]'));
    type Shape = 'string' | 'map' | 'list' | 'bytes' | 'bytes-anywhere';

    /** Puts the secret at the end of `path` (object keys, or `[]` for an array), with noise around it. */
    function placeSecret(secret: string, path: readonly string[], key: string, shape: Shape, siblings: Record<string, unknown>): Record<string, unknown> {
      const bytes = new TextEncoder().encode(secret);
      const inner: Record<string, unknown> =
        shape === 'bytes-anywhere'
          ? { ...siblings, blob: bytes }
          : { ...siblings, [key]: shape === 'string' ? secret : shape === 'map' ? { any: secret } : shape === 'list' ? [secret] : bytes };
      let value: unknown = inner;
      for (const segment of [...path].reverse()) value = segment === '[]' ? [{ ...siblings }, value] : { ...siblings, [segment]: value };
      return Array.isArray(value) ? { items: value } : (value as Record<string, unknown>);
    }

    /** Every way the secret could show in a line: as text, JSON-escaped (once or twice), or as its bytes. */
    function leaks(line: string, secret: string): boolean {
      const bytes = [...new TextEncoder().encode(secret)];
      const byteForms = [bytes.slice(0, 3).join(','), `"0":${bytes[0]},"1":${bytes[1]}`, `\\"0\\":${bytes[0]},\\"1\\":${bytes[1]}`];
      return line.includes(MARKER) || byteForms.some((form) => line.includes(form));
    }

    it('under secrets, token, contents, data (any depth) or as bytes anywhere, in text and JSON lines', () => {
      fc.assert(
        fc.property(
          secretText,
          fc.array(step, { maxLength: 10 }),
          fc.constantFrom(...SECRET_KEYS),
          fc.constantFrom<Shape>('string', 'map', 'list', 'bytes', 'bytes-anywhere'),
          noise,
          fc.boolean(),
          fc.constantFrom<'debug' | 'info' | 'warn' | 'error'>('debug', 'info', 'warn', 'error'),
          (secret, path, key, shape, siblings, json, level) => {
            const lines: string[] = [];
            const logger = new ConsoleLogger({ json, verbosity: 10, now: () => new Date(0), write: (line) => lines.push(line) });
            logger[level]('publishing', placeSecret(secret, path, key, shape, siblings));
            expect(lines).to.have.length(1);
            expect(leaks(lines[0]!, secret), lines[0]).to.equal(false);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('still shows the ordinary fields next to a redacted secret', () => {
      fc.assert(
        fc.property(secretText, fc.constantFrom(...SECRET_KEYS), (secret, key) => {
          const lines: string[] = [];
          const logger = new ConsoleLogger({ json: true, verbosity: 0, now: () => new Date(0), write: (line) => lines.push(line) });
          logger.info('publishing', { pod: 'default/app-0', request: { [key]: secret } });
          expect(JSON.parse(lines[0]!)).to.deep.include({ pod: 'default/app-0', request: { [key]: REDACTED } });
        }),
      );
    });
  });
});
