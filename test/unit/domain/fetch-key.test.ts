import { expect } from 'chai';
import fc from 'fast-check';
import { inspect } from 'node:util';
import {
  FETCH_SHARING_ANNOTATION,
  FetchKey,
  fetchSharing,
  fnv1a64,
  sharingCandidate,
} from '../../../src/domain/fetch-key.js';
import type { ObjectVersion } from '../../../src/domain/object-versions.js';
import type { ProviderMountRequest } from '../../../src/domain/provider-request.js';
import type { SecretProviderClass } from '../../../src/domain/secret-provider-class.js';
import { parseVolumeRequest, type VolumeRequest } from '../../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { aClass, aPublishCommand, KUBELET_ROOT, targetPathFor } from '../../support/builders.js';

/** FNV-1a 64 the slow, obvious way (BigInt), to check the limb arithmetic against. */
function referenceFnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Secret values are long and marked, so finding one in a printed key cannot be a coincidence. */
const secretValue = fc.stringMatching(/^[a-z0-9]{4,10}$/).map((s) => `SECRET-${s}`);
const smallMap = (values: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> =>
  fc.dictionary(fc.constantFrom('a', 'b', 'password', '__proto__'), values, { maxKeys: 3, noNullPrototype: true });

interface MountFields {
  readonly provider: string;
  readonly attributes: string;
  readonly secrets: string;
  readonly targetPath: string;
  readonly permission: string;
  readonly versions: readonly ObjectVersion[];
}

const mountFields: fc.Arbitrary<MountFields> = fc.record({
  provider: fc.constantFrom('azure', 'vault'),
  attributes: fc.constantFrom('{"objects":"a"}', '{"objects":"b"}', '{"objects":"a","csi.storage.k8s.io/serviceAccount.tokens":"SECRET-token"}'),
  secrets: fc.constantFrom('null', '{"password":"SECRET-one"}', '{"password":"SECRET-two"}'),
  targetPath: fc.constantFrom(targetPathFor('u1'), targetPathFor('u2')),
  permission: fc.constantFrom('420', '384'),
  versions: fc.array(fc.record({ id: fc.constantFrom('x', 'y'), version: fc.constantFrom('v1', 'v2') }), { maxLength: 2 }),
});

function mountRequest(f: MountFields): ProviderMountRequest {
  return { attributes: f.attributes, secrets: f.secrets, targetPath: f.targetPath, permission: f.permission, currentObjectVersion: f.versions };
}

/** What defines a sharing key, and what must not matter (pod name and uid, tokens, target path). */
interface SharingFields {
  readonly provider: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly classUid: string;
  readonly generation: number;
  readonly parameters: Record<string, string>;
  readonly volumeAttributes: Record<string, string>;
  readonly nodePublishSecrets: Record<string, string>;
}

interface PodOwnFields {
  readonly podName: string;
  readonly podUid: string;
  /** The service-account token kubelet sent, if any. */
  readonly tokens: string | undefined;
}

const sharingFields: fc.Arbitrary<SharingFields> = fc.record({
  provider: fc.constantFrom('azure', 'vault'),
  namespace: fc.constantFrom('default', 'team-a'),
  serviceAccount: fc.constantFrom('app', 'web', ''),
  classUid: fc.constantFrom('uid-1', 'uid-2'),
  generation: fc.constantFrom(1, 2),
  parameters: smallMap(fc.constantFrom('x', 'y')),
  volumeAttributes: fc.dictionary(fc.constantFrom('region', 'objects'), fc.constantFrom('eu', 'us'), { maxKeys: 2, noNullPrototype: true }),
  nodePublishSecrets: smallMap(secretValue),
});

const podOwnFields: fc.Arbitrary<PodOwnFields> = fc.record({
  podName: fc.constantFrom('app-0', 'app-1'),
  podUid: fc.constantFrom('uid-a', 'uid-b'),
  tokens: fc.option(secretValue, { nil: undefined }),
});

function sharingInput(f: SharingFields, own: PodOwnFields): { spc: SecretProviderClass; request: VolumeRequest } {
  const command = aPublishCommand({ podUid: own.podUid, podName: own.podName });
  const volumeContext = {
    ...command.volumeContext,
    ...f.volumeAttributes,
    [VolumeContextKey.podNamespace]: f.namespace,
    [VolumeContextKey.serviceAccountName]: f.serviceAccount,
  };
  const secrets = own.tokens === undefined ? f.nodePublishSecrets : { ...f.nodePublishSecrets, [VolumeContextKey.serviceAccountTokens]: `{"aud":{"token":"${own.tokens}"}}` };
  const request = parseVolumeRequest({ ...command, volumeContext, secrets }, KUBELET_ROOT);
  const spc = aClass({ namespace: f.namespace, provider: f.provider, uid: f.classUid, generation: f.generation, parameters: f.parameters });
  return { spc, request };
}

const sharingKey = (f: SharingFields, own: PodOwnFields): FetchKey => {
  const { spc, request } = sharingInput(f, own);
  return FetchKey.sharing(spc, request);
};

function printedForms(key: FetchKey): string[] {
  return [key.id, String(key), `${key}`, JSON.stringify(key), JSON.stringify({ key }), inspect(key, { depth: 5, showHidden: true })];
}

describe('domain/fetch-key', () => {
  describe('fnv1a64', () => {
    it('matches the published FNV-1a 64 test vectors', () => {
      expect(fnv1a64('')).to.equal('cbf29ce484222325');
      expect(fnv1a64('a')).to.equal('af63dc4c8601ec8c');
      expect(fnv1a64('foobar')).to.equal('85944171f73967e8');
    });

    it('equals the BigInt computation for any text, multi-byte and lone surrogates included', () => {
      fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => fnv1a64(text) === referenceFnv1a64(text)));
    });
  });

  describe('fetchSharing (the class annotation)', () => {
    it('is off without the annotation or with an empty one', () => {
      expect(fetchSharing({})).to.deep.equal({ enabled: false });
      expect(fetchSharing({ [FETCH_SHARING_ANNOTATION]: ' ' })).to.deep.equal({ enabled: false });
    });

    it('is on for serviceaccount, whatever the case and surrounding blanks', () => {
      expect(FETCH_SHARING_ANNOTATION).to.equal('secrets-store.csi.k8s.io/fetch-sharing');
      expect(fetchSharing({ [FETCH_SHARING_ANNOTATION]: 'serviceaccount' })).to.deep.equal({ enabled: true });
      expect(fetchSharing({ [FETCH_SHARING_ANNOTATION]: ' ServiceAccount ' })).to.deep.equal({ enabled: true });
    });

    it('is off, with the reason, for any other value', () => {
      const sharing = fetchSharing({ [FETCH_SHARING_ANNOTATION]: 'namespace' });
      expect(sharing.enabled).to.equal(false);
      expect(sharing.problem).to.contain(FETCH_SHARING_ANNOTATION).and.to.contain('"namespace"');
    });
  });

  describe('FetchKey.singleFlight', () => {
    it('keys are equal iff provider and every MountRequest field are equal', () => {
      fc.assert(
        fc.property(mountFields, mountFields, (a, b) => {
          const same = JSON.stringify(a) === JSON.stringify(b);
          const keyA = FetchKey.singleFlight(a.provider, mountRequest(a));
          const keyB = FetchKey.singleFlight(b.provider, mountRequest(b));
          expect(keyA.equals(keyB)).to.equal(same);
          expect(keyB.equals(keyA)).to.equal(same);
          if (same) expect(keyA.id).to.equal(keyB.id);
        }),
      );
    });

    it('is the same for the same request built twice (deterministic)', () => {
      fc.assert(
        fc.property(mountFields, (f) => {
          const a = FetchKey.singleFlight(f.provider, mountRequest(f));
          const b = FetchKey.singleFlight(f.provider, mountRequest({ ...f, versions: f.versions.map((v) => ({ ...v })) }));
          return a.equals(b) && a.id === b.id;
        }),
      );
    });

    it('never prints the attributes (tokens) or the secrets, and its id does not depend on them', () => {
      fc.assert(
        fc.property(mountFields, secretValue, secretValue, (f, secret, token) => {
          const request = { ...mountRequest(f), secrets: `{"password":"${secret}"}`, attributes: `{"csi.storage.k8s.io/serviceAccount.tokens":"${token}"}` };
          const key = FetchKey.singleFlight(f.provider, request);
          for (const printed of printedForms(key)) {
            expect(printed).to.not.contain(secret);
            expect(printed).to.not.contain(token);
          }
          expect(key.id).to.equal(FetchKey.singleFlight(f.provider, mountRequest(f)).id);
        }),
      );
    });

    it('prints as its scope and 16 hex digits', () => {
      const key = FetchKey.singleFlight('azure', mountRequest({ provider: 'azure', attributes: '{}', secrets: 'null', targetPath: targetPathFor('u'), permission: '420', versions: [] }));
      expect(String(key)).to.match(/^single-flight:[0-9a-f]{16}$/);
    });
  });

  describe('FetchKey.sharing', () => {
    it('keys are equal iff namespace, service account, class uid and generation, provider, parameters and nodePublishSecretRef data are equal', () => {
      fc.assert(
        fc.property(sharingFields, sharingFields, podOwnFields, podOwnFields, (a, b, ownA, ownB) => {
          const same = sameEntries(a, b);
          const keyA = sharingKey(a, ownA);
          const keyB = sharingKey(b, ownB);
          expect(keyA.equals(keyB), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).to.equal(same);
          if (same) expect(keyA.id).to.equal(keyB.id);
        }),
      );
    });

    it('ignores the pod name, pod uid, service-account tokens and target path', () => {
      fc.assert(
        fc.property(sharingFields, podOwnFields, podOwnFields, (f, ownA, ownB) => {
          const a = sharingInput(f, ownA);
          const b = sharingInput(f, ownB);
          return FetchKey.sharing(a.spc, a.request).equals(FetchKey.sharing(b.spc, b.request));
        }),
      );
    });

    it('tells apart a volume attribute that overrides a class parameter', () => {
      const f: SharingFields = {
        provider: 'vault',
        namespace: 'default',
        serviceAccount: 'app',
        classUid: 'u',
        generation: 1,
        parameters: { region: 'eu' },
        volumeAttributes: {},
        nodePublishSecrets: {},
      };
      const own: PodOwnFields = { podName: 'app-0', podUid: 'uid-a', tokens: undefined };
      expect(sharingKey(f, own).equals(sharingKey({ ...f, volumeAttributes: { region: 'us' } }, own))).to.equal(false);
      expect(sharingKey(f, own).equals(sharingKey({ ...f, volumeAttributes: { region: 'eu' } }, own))).to.equal(true);
    });

    it('never prints nodePublishSecretRef data or tokens, and its id does not depend on them', () => {
      fc.assert(
        fc.property(sharingFields, podOwnFields, (f, own) => {
          const key = sharingKey(f, own);
          const secrets = [...Object.values(f.nodePublishSecrets), ...(own.tokens ? [own.tokens] : [])];
          for (const printed of printedForms(key)) {
            for (const secret of secrets) expect(printed).to.not.contain(secret);
          }
          expect(key.id).to.equal(sharingKey({ ...f, nodePublishSecrets: {} }, { ...own, tokens: undefined }).id);
          expect(String(key)).to.match(/^sharing:[0-9a-f]{16}$/);
        }),
      );
    });

    it('is never equal to a single-flight key', () => {
      const { spc, request } = sharingInput(
        { provider: 'p', namespace: 'n', serviceAccount: 's', classUid: 'u', generation: 1, parameters: {}, volumeAttributes: {}, nodePublishSecrets: {} },
        { podName: 'a', podUid: 'b', tokens: undefined },
      );
      const single = FetchKey.singleFlight('p', { attributes: '{}', secrets: 'null', targetPath: request.target.path, permission: '420', currentObjectVersion: [] });
      expect(FetchKey.sharing(spc, request).equals(single)).to.equal(false);
    });
  });

  describe('sharingCandidate', () => {
    it('groups by provider, namespace, class name and service account only', () => {
      fc.assert(
        fc.property(sharingFields, sharingFields, podOwnFields, podOwnFields, fc.constantFrom('c1', 'c2'), fc.constantFrom('c1', 'c2'), (a, b, ownA, ownB, classA, classB) => {
          const requestA = { ...sharingInput(a, ownA).request, className: classA };
          const requestB = { ...sharingInput(b, ownB).request, className: classB };
          const same = a.provider === b.provider && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount && classA === classB;
          return (sharingCandidate(a.provider, requestA) === sharingCandidate(b.provider, requestB)) === same;
        }),
      );
    });
  });
});

/** Deep equality of two records by their own entries, whatever the key order. */
function sameEntries(a: object, b: object): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
    .join(',')}}`;
}
