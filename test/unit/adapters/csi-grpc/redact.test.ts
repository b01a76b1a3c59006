import { expect } from 'chai';
import fc from 'fast-check';
import { callSubject, describeRequest, REDACTED, SHOWN_VALUE_BYTES } from '../../../../src/adapters/csi-grpc/redact.js';

const TOKENS_KEY = 'csi.storage.k8s.io/serviceAccount.tokens';

/** Every string (keys and values) anywhere in a value. */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
  return [];
}

describe('describeRequest', () => {
  it('shows a value longer than SHOWN_VALUE_BYTES by its size in bytes, and every key', () => {
    const described = describeRequest({
      volumeId: 'v1',
      volumeContext: { secretProviderClass: 'app-secrets', huge: 'x'.repeat(3_500_000), wide: 'é'.repeat(SHOWN_VALUE_BYTES) },
    });
    expect(described).to.deep.equal({
      volumeId: 'v1',
      volumeContext: { secretProviderClass: 'app-secrets', huge: '[3500000 bytes]', wide: `[${2 * SHOWN_VALUE_BYTES} bytes]` },
    });
  });

  it(`shows a value of exactly ${SHOWN_VALUE_BYTES} bytes as it is`, () => {
    const value = 'a'.repeat(SHOWN_VALUE_BYTES);
    expect(describeRequest({ targetPath: value })).to.deep.equal({ targetPath: value });
  });

  it('replaces every secrets value and keeps the keys', () => {
    const redacted = describeRequest({ volumeId: 'v1', secrets: { clientid: 'id', clientsecret: 'shh' } });
    expect(redacted).to.deep.equal({ volumeId: 'v1', secrets: { clientid: REDACTED, clientsecret: REDACTED } });
  });

  it('replaces the service account tokens in volume_context and keeps the other entries', () => {
    const redacted = describeRequest({ volumeContext: { secretProviderClass: 'spc', [TOKENS_KEY]: '{"aud":{"token":"t"}}' } });
    expect(redacted).to.deep.equal({ volumeContext: { secretProviderClass: 'spc', [TOKENS_KEY]: REDACTED } });
  });

  it('handles snake_case field names and nested messages alike', () => {
    const redacted = describeRequest({ volume_context: { [TOKENS_KEY]: 'jwt' }, nested: [{ secrets: { k: 'v' } }] });
    expect(redacted).to.deep.equal({ volume_context: { [TOKENS_KEY]: REDACTED }, nested: [{ secrets: { k: REDACTED } }] });
  });

  it('does not modify the request it is given', () => {
    const request = { secrets: { a: 'b' } };
    describeRequest(request);
    expect(request).to.deep.equal({ secrets: { a: 'b' } });
  });

  it('keeps a "__proto__" key as a plain entry', () => {
    const request = JSON.parse('{"secrets":{"__proto__":"x"},"volumeContext":{"__proto__":"y"}}') as unknown;
    const redacted = describeRequest(request) as { secrets: object; volumeContext: object };
    expect(Object.getPrototypeOf(redacted.secrets)).to.equal(Object.prototype);
    expect(Object.entries(redacted.secrets)).to.deep.equal([['__proto__', REDACTED]]);
  });

  it('never lets a secret value or token appear anywhere in the output', () => {
    // Secret values carry a marker the other generated fields cannot contain, so any hit is a leak.
    const secretValue = fc.string().map((s) => `«${s}»`);
    const plain = fc.stringMatching(/^[a-z0-9./-]{0,12}$/);
    const request = fc.record({
      volumeId: plain,
      targetPath: plain,
      readonly: fc.boolean(),
      secrets: fc.dictionary(plain, secretValue),
      volumeContext: fc.dictionary(plain, plain),
      tokens: fc.option(secretValue, { nil: undefined }),
      tokensInSecrets: fc.boolean(),
    });
    fc.assert(
      fc.property(request, ({ tokens, tokensInSecrets, ...rest }) => {
        const withTokens = tokens === undefined ? rest
          : tokensInSecrets ? { ...rest, secrets: { ...rest.secrets, [TOKENS_KEY]: tokens } }
          : { ...rest, volumeContext: { ...rest.volumeContext, [TOKENS_KEY]: tokens } };
        const leaked = stringsIn(describeRequest(withTokens)).filter((s) => s.includes('«'));
        expect(leaked).to.deep.equal([]);
      }),
    );
  });
});

describe('callSubject', () => {
  it('names the volume id and target path, and nothing a pod chose', () => {
    const request = { volumeId: 'csi-1', targetPath: '/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount', volumeContext: { a: 'b' }, secrets: { k: 'v' } };
    expect(callSubject(request)).to.deep.equal({ volumeId: 'csi-1', targetPath: '/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount' });
  });

  it('is empty for a request without them (probes, queries)', () => {
    expect(callSubject({})).to.deep.equal({});
    expect(callSubject({ volumeId: '', targetPath: 42 })).to.deep.equal({});
  });
});
