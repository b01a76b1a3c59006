import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import type { ObjectVersion } from '../../../src/domain/object-versions.js';
import {
  buildMountRequest,
  interpretMountResponse,
  ProviderAnswerLimit,
  sortedJson,
  type ProviderMountResponse,
} from '../../../src/domain/provider-request.js';
import { parseVolumeRequest, type PublishCommand } from '../../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { aClass, aFile, aPublishCommand, KUBELET_ROOT, targetPathFor } from '../../support/builders.js';
import { objectVersions, stringMap } from '../../support/domain-arbitraries.js';
import { codeOf } from '../../support/domain-error-code.js';


const TOKENS = '{"api://AzureADTokenExchange":{"token":"eyJ.x.y","expirationTimestamp":"2026-01-01T00:00:00Z"}}';
const v = (id: string, version: string): ObjectVersion => ({ id, version });

function request(overrides: Partial<PublishCommand> = {}) {
  return parseVolumeRequest({ ...aPublishCommand(), ...overrides }, KUBELET_ROOT);
}

function response(overrides: Partial<ProviderMountResponse> = {}): ProviderMountResponse {
  return { objectVersions: [v('secret/db', 'v1')], errorCode: '', files: [aFile('db-password', 's3cret')], ...overrides };
}

/** The keys of a flat JSON string map in the order the text lists them (JSON.parse would reorder integer-like keys). */
function keysInTextOrder(json: string): string[] {
  return [...json.matchAll(/"((?:[^"\\]|\\.)*)":"(?:[^"\\]|\\.)*"/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
}

function isSorted(keys: string[]): boolean {
  return keys.every((key, i) => i === 0 || keys[i - 1]! < key);
}

describe('domain/provider-request', () => {
  describe('buildMountRequest', () => {
    it('sends attributes = class parameters overlaid by every volume_context key, keys sorted', () => {
      const spc = aClass({ parameters: { objects: 'list', keyvaultName: 'kv', secretProviderClass: 'from-params' } });
      const mount = buildMountRequest(spc, request(), []);
      expect(mount.attributes).to.equal(
        JSON.stringify({
          'csi.storage.k8s.io/ephemeral': 'true',
          'csi.storage.k8s.io/pod.name': 'app-0',
          'csi.storage.k8s.io/pod.namespace': 'default',
          'csi.storage.k8s.io/pod.uid': 'pod-uid-1',
          'csi.storage.k8s.io/serviceAccount.name': 'app',
          keyvaultName: 'kv',
          objects: 'list',
          secretProviderClass: 'app-secrets',
        }),
      );
    });

    it('lets volume_context win over a class parameter of the same name', () => {
      const spc = aClass({ parameters: { [VolumeContextKey.podName]: 'spoofed', region: 'eu' } });
      const attributes = JSON.parse(buildMountRequest(spc, request(), []).attributes) as Record<string, string>;
      expect(attributes[VolumeContextKey.podName]).to.equal('app-0');
      expect(attributes['region']).to.equal('eu');
    });

    it('passes extra volume attributes of the inline volume through to the provider', () => {
      const command = aPublishCommand();
      const attributes = JSON.parse(
        buildMountRequest(aClass(), request({ volumeContext: { ...command.volumeContext, usePodIdentity: 'true' } }), []).attributes,
      ) as Record<string, string>;
      expect(attributes['usePodIdentity']).to.equal('true');
    });

    it('adds the service-account tokens sent in secrets to attributes and keeps them out of secrets', () => {
      const mount = buildMountRequest(aClass(), request({ secrets: { clientid: 'id', [VolumeContextKey.serviceAccountTokens]: TOKENS } }), []);
      expect((JSON.parse(mount.attributes) as Record<string, string>)[VolumeContextKey.serviceAccountTokens]).to.equal(TOKENS);
      expect(mount.secrets).to.equal('{"clientid":"id"}');
    });

    it('adds the service-account tokens sent in volume_context to attributes', () => {
      const command = aPublishCommand();
      const mount = buildMountRequest(
        aClass(),
        request({ volumeContext: { ...command.volumeContext, [VolumeContextKey.serviceAccountTokens]: TOKENS } }),
        [],
      );
      expect((JSON.parse(mount.attributes) as Record<string, string>)[VolumeContextKey.serviceAccountTokens]).to.equal(TOKENS);
      expect(mount.secrets).to.equal('null');
    });

    it('prefers the tokens of secrets over stale tokens in volume_context', () => {
      const command = aPublishCommand();
      const mount = buildMountRequest(
        aClass(),
        request({
          volumeContext: { ...command.volumeContext, [VolumeContextKey.serviceAccountTokens]: '{"old":{}}' },
          secrets: { [VolumeContextKey.serviceAccountTokens]: TOKENS },
        }),
        [],
      );
      expect((JSON.parse(mount.attributes) as Record<string, string>)[VolumeContextKey.serviceAccountTokens]).to.equal(TOKENS);
    });

    it('has no tokens attribute when kubelet sent no tokens', () => {
      const attributes = JSON.parse(buildMountRequest(aClass(), request(), []).attributes) as Record<string, string>;
      expect(attributes).to.not.have.property(VolumeContextKey.serviceAccountTokens);
    });

    it('sends secrets as the JSON text null when there is no node-publish secret', () => {
      expect(buildMountRequest(aClass(), request({ secrets: {} }), []).secrets).to.equal('null');
    });

    it('sends secrets as the JSON text null when the only secret was the tokens', () => {
      expect(buildMountRequest(aClass(), request({ secrets: { [VolumeContextKey.serviceAccountTokens]: TOKENS } }), []).secrets).to.equal('null');
    });

    it('sends the node-publish secrets as sorted JSON', () => {
      const mount = buildMountRequest(aClass(), request({ secrets: { clientsecret: 's', clientid: 'i' } }), []);
      expect(mount.secrets).to.equal('{"clientid":"i","clientsecret":"s"}');
    });

    it('sends the permission as the decimal JSON number text "420", never "0644"', () => {
      const mount = buildMountRequest(aClass(), request(), []);
      expect(mount.permission).to.equal('420');
      expect(JSON.parse(mount.permission)).to.equal(0o644);
    });

    it('sends 0640 ("416") for a volume with a mount group, and the class file-mode where it has one', () => {
      expect(buildMountRequest(aClass(), { ...request(), mountGroup: 2000 }, []).permission).to.equal('416');
      const annotated = aClass({ annotations: { 'secrets-store.csi.k8s.io/file-mode': '0400' } });
      expect(buildMountRequest(annotated, request(), []).permission).to.equal('256');
      expect(buildMountRequest(annotated, { ...request(), mountGroup: 2000 }, []).permission).to.equal('256');
    });

    it('sends the kubelet target path', () => {
      expect(buildMountRequest(aClass(), request(), []).targetPath).to.equal(targetPathFor('pod-uid-1'));
    });

    it('sends no current object versions on first mount', () => {
      expect(buildMountRequest(aClass(), request(), []).currentObjectVersion).to.deep.equal([]);
    });

    it('sends the currently mounted versions sorted by id', () => {
      const mount = buildMountRequest(aClass(), request(), [v('secret/b', '2'), v('secret/a', '1')]);
      expect(mount.currentObjectVersion).to.deep.equal([v('secret/a', '1'), v('secret/b', '2')]);
    });

    it('always sends sorted attribute keys, volume_context winning, for any parameters and context (property)', () => {
      fc.assert(
        fc.property(stringMap, stringMap, (parameters, extraContext) => {
          const base = aPublishCommand();
          const volumeContext = { ...extraContext, ...base.volumeContext };
          const req = request({ volumeContext });
          const mount = buildMountRequest(aClass({ parameters }), req, []);
          const attributes = JSON.parse(mount.attributes) as Record<string, string>;
          expect(keysInTextOrder(mount.attributes)).to.deep.equal(Object.keys(attributes).sort());
          expect(attributes).to.deep.equal({ ...parameters, ...volumeContext });
        }),
      );
    });

    it('always sends the current versions sorted with unique ids (property)', () => {
      fc.assert(
        fc.property(objectVersions, (versions) => {
          const ids = buildMountRequest(aClass(), request(), versions).currentObjectVersion.map((x) => x.id);
          expect(isSorted(ids)).to.equal(true);
          expect(new Set(ids)).to.deep.equal(new Set(versions.map((x) => x.id)));
        }),
      );
    });
  });

  describe('sortedJson', () => {
    it('writes keys in sorted order', () => {
      expect(sortedJson({ b: '2', a: '1', C: '3' })).to.equal('{"C":"3","a":"1","b":"2"}');
    });

    it('writes an empty map as {}', () => {
      expect(sortedJson({})).to.equal('{}');
    });

    it('sorts integer-like keys as strings too, as Go does ("10" before "9")', () => {
      expect(sortedJson({ '9': 'a', '10': 'b', x: 'c', '': 'd' })).to.equal('{"":"d","10":"b","9":"a","x":"c"}');
    });

    it('escapes <, >, & and the line separators like Go encoding/json', () => {
      expect(sortedJson({ html: '<a href="x">&</a>', ls: '\u2028\u2029' })).to.equal(
        '{"html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e","ls":"\\u2028\\u2029"}',
      );
    });

    it('escapes those characters in keys too', () => {
      expect(sortedJson({ '<k>': 'v' })).to.equal('{"\\u003ck\\u003e":"v"}');
    });

    it('keeps a key named __proto__ as an ordinary key', () => {
      const map = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
      expect(JSON.parse(sortedJson(map))).to.deep.equal(map);
      expect(sortedJson(map)).to.equal('{"__proto__":"x","a":"b"}');
    });

    it('parses back to the same map, with sorted keys and no raw <, >, &, U+2028, U+2029 (property)', () => {
      fc.assert(
        fc.property(stringMap, (map) => {
          const json = sortedJson(map);
          const parsed = JSON.parse(json) as Record<string, string>;
          expect(parsed).to.deep.equal(map);
          expect(keysInTextOrder(json)).to.deep.equal(Object.keys(map).sort());
          expect(json).to.not.match(/[<>&\u2028\u2029]/);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('interpretMountResponse', () => {
    it('returns the versions sorted and the files validated, modes defaulted', () => {
      const payload = interpretMountResponse('fake', response({
        objectVersions: [v('b', '1'), v('a', '2')],
        files: [aFile('z', '1', 0), aFile('a', '2', 0o600)],
      }));
      expect(payload.objectVersions).to.deep.equal([v('a', '2'), v('b', '1')]);
      expect(payload.files.map((f) => [f.path, f.mode])).to.deep.equal([
        ['a', 0o600],
        ['z', 420],
      ]);
    });

    it('returns no files for a legacy provider that wrote the files itself', () => {
      expect(interpretMountResponse('fake', response({ files: [] })).files).to.deep.equal([]);
    });

    it('fails with ProviderError carrying the provider code as providerCode and errorType', () => {
      try {
        interpretMountResponse('azure', response({ errorCode: 'AuthorizationFailed' }));
        expect.fail('should have thrown');
      } catch (error) {
        expect(error).to.be.instanceOf(DomainError);
        const domain = error as DomainError;
        expect(domain.code).to.equal('ProviderError');
        expect(domain.providerCode).to.equal('AuthorizationFailed');
        expect(domain.errorType).to.equal('AuthorizationFailed');
        expect(domain.message).to.include('azure').and.include('AuthorizationFailed');
      }
    });

    it('reports the provider error even when the response also lacks versions and has bad files', () => {
      const bad = response({ errorCode: 'E', objectVersions: [], files: [aFile('/abs', 'x')] });
      expect(codeOf(() => interpretMountResponse('fake', bad))).to.equal('ProviderError');
    });

    it('fails with MissingObjectVersions when the provider returns no object versions', () => {
      expect(() => interpretMountResponse('fake', response({ objectVersions: [] })))
        .to.throw(DomainError, 'missing object versions')
        .with.property('code', 'MissingObjectVersions');
    });

    it('fails with InvalidPayloadPath when a file path is invalid (nothing is returned)', () => {
      expect(codeOf(() => interpretMountResponse('fake', response({ files: [aFile('ok', '1'), aFile('a/../b', '2')] })))).to.equal(
        'InvalidPayloadPath',
      );
    });

    it('fails with DuplicatePayloadPath when two files share a path', () => {
      expect(codeOf(() => interpretMountResponse('fake', response({ files: [aFile('a', '1'), aFile('a', '2')] })))).to.equal(
        'DuplicatePayloadPath',
      );
    });

    it('fails with InvalidFileMode for a mode outside 0..0777', () => {
      expect(codeOf(() => interpretMountResponse('fake', response({ files: [aFile('a', '1', 0o1777)] })))).to.equal('InvalidFileMode');
    });
  });

  describe('interpretMountResponse limits (ProviderAnswerTooLarge)', () => {
    const versions = (count: number, id = (i: number) => `secret/object-${i}`): ObjectVersion[] =>
      Array.from({ length: count }, (_, i) => v(id(i), 'v1'));
    const files = (count: number, path = (i: number) => `file-${i}`) => Array.from({ length: count }, (_, i) => aFile(path(i), 'x'));
    const limit = ProviderAnswerLimit;

    /** The refusal's message, or undefined when the answer is accepted. */
    function refusal(answer: ProviderMountResponse): string | undefined {
      try {
        interpretMountResponse('vault', answer);
        return undefined;
      } catch (error) {
        expect(error).to.be.instanceOf(DomainError);
        expect((error as DomainError).code, (error as DomainError).message).to.equal('ProviderAnswerTooLarge');
        return (error as DomainError).message;
      }
    }

    const cases: { name: string; answer: ProviderMountResponse; refused?: string }[] = [
      { name: `${limit.objectVersions} object versions`, answer: response({ objectVersions: versions(limit.objectVersions) }) },
      {
        name: '100,000 object versions',
        answer: response({ objectVersions: versions(100_000) }),
        refused: `provider "vault" returned 100000 object versions; at most ${limit.objectVersions} are accepted`,
      },
      { name: `an id of ${limit.objectVersionFieldBytes} bytes`, answer: response({ objectVersions: [v('i'.repeat(limit.objectVersionFieldBytes), 'v1')] }) },
      {
        name: `an id of ${limit.objectVersionFieldBytes + 1} bytes`,
        answer: response({ objectVersions: [v('i'.repeat(limit.objectVersionFieldBytes + 1), 'v1')] }),
        refused: `provider "vault" returned an object version id of ${limit.objectVersionFieldBytes + 1} bytes ("iiii`,
      },
      {
        name: 'a version of a megabyte in two-byte characters',
        answer: response({ objectVersions: [v('secret/db', 'é'.repeat(500_000))] }),
        refused: 'returned an object version version of 1000000 bytes ("ééé',
      },
      {
        name: 'ids and versions beyond the total',
        answer: response({ objectVersions: versions(limit.objectVersions, (i) => `${'i'.repeat(300)}-${i}`) }),
        refused: `bytes in total; at most ${limit.objectVersionsTotalBytes} bytes are accepted`,
      },
      { name: `${limit.files} files`, answer: response({ files: files(limit.files) }) },
      {
        name: `${limit.files + 1} files`,
        answer: response({ files: files(limit.files + 1) }),
        refused: `provider "vault" returned ${limit.files + 1} files; at most ${limit.files} are accepted`,
      },
      {
        name: 'file paths beyond the total',
        // 2,200 paths of about 500 bytes, each one valid.
        answer: response({ files: files(2_200, (i) => `${'d'.repeat(250)}/${'f'.repeat(240)}-${i}`) }),
        refused: `bytes in total; at most ${limit.filePathsTotalBytes} bytes are accepted`,
      },
    ];
    for (const { name, answer, refused } of cases) {
      it(`${refused === undefined ? 'accepts' : 'refuses'} ${name}`, () => {
        const message = refusal(answer);
        if (refused === undefined) expect(message).to.equal(undefined);
        else expect(message).to.contain(refused);
      });
    }

    it('quotes at most an excerpt of an overlong id', () => {
      expect(refusal(response({ objectVersions: [v('x'.repeat(1_000_000), 'v1')] }))!.length).to.be.below(300);
    });
  });
});
