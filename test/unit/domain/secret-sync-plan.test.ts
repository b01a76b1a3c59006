import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import { readSecretRotationMarker, syncedVersionsDigest } from '../../../src/domain/restart-on-rotation.js';
import type { OwnerReference } from '../../../src/domain/owner-reference.js';
import {
  desiredSecrets,
  MANAGED_LABEL,
  planSecretChange,
  SECRET_TYPES,
  TLS_SECRET_TYPE,
  withRotationMarker,
  type CurrentSecret,
  type DesiredSecret,
  type SecretPatch,
} from '../../../src/domain/secret-sync-plan.js';
import { aClass, aFile, aSecretObject, text } from '../../support/builders.js';
import { codeOf } from '../../support/domain-error-code.js';


const enc = (value: string) => new TextEncoder().encode(value);

const replicaSet: OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-uid-1' };
const otherReplicaSet: OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-def', uid: 'rs-uid-2' };

function desired(overrides: Partial<DesiredSecret> = {}): DesiredSecret {
  return {
    namespace: 'default',
    name: 'app-synced',
    type: 'Opaque',
    labels: { [MANAGED_LABEL]: 'true', team: 'a' },
    annotations: { note: 'x' },
    data: { password: enc('s3cret'), user: enc('admin') },
    ...overrides,
  };
}

/** The Secret that results from creating `secret` with `owners`. */
function existing(secret: DesiredSecret, owners: readonly OwnerReference[], overrides: Partial<CurrentSecret> = {}): CurrentSecret {
  return {
    namespace: secret.namespace,
    name: secret.name,
    type: secret.type,
    labels: { ...secret.labels },
    annotations: { ...secret.annotations },
    data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, v.slice()])),
    ownerReferences: [...owners],
    ...overrides,
  };
}

/** Applies a patch the way a strategic-merge / JSON merge patch of those fields would. */
function applyPatch(current: CurrentSecret, patch: SecretPatch): CurrentSecret {
  const data: Record<string, Uint8Array> = { ...current.data };
  for (const [key, value] of Object.entries(patch.data ?? {})) {
    if (value === null) delete data[key];
    else data[key] = value;
  }
  return {
    ...current,
    labels: { ...current.labels, ...patch.labels },
    annotations: { ...current.annotations, ...patch.annotations },
    data,
    ownerReferences: patch.ownerReferences ?? current.ownerReferences,
  };
}

describe('domain/secret-sync-plan', () => {
  it('names the managed label and the TLS type as upstream does', () => {
    expect(MANAGED_LABEL).to.equal('secrets-store.csi.k8s.io/managed');
    expect(TLS_SECRET_TYPE).to.equal('kubernetes.io/tls');
    expect(SECRET_TYPES).to.include.members(['Opaque', 'kubernetes.io/tls', 'kubernetes.io/dockerconfigjson', 'kubernetes.io/basic-auth']);
  });

  describe('desiredSecrets', () => {
    const files = [aFile('db-password', 's3cret'), aFile('db/user', 'admin'), aFile('other', 'o')];

    it('builds one Secret per secretObject in the class namespace, data from the mounted files', () => {
      const spc = aClass({
        namespace: 'team-a',
        secretObjects: [
          aSecretObject({
            secretName: 'db',
            data: [
              { objectName: 'db-password', key: 'password' },
              { objectName: 'db/user', key: 'username' },
            ],
          }),
          aSecretObject({ secretName: 'other', data: [{ objectName: 'other', key: 'o.txt' }] }),
        ],
      });
      const secrets = desiredSecrets(spc, files);
      expect(secrets.map((s) => [s.namespace, s.name, s.type])).to.deep.equal([
        ['team-a', 'db', 'Opaque'],
        ['team-a', 'other', 'Opaque'],
      ]);
      expect(Object.keys(secrets[0]!.data)).to.deep.equal(['password', 'username']);
      expect(text(secrets[0]!.data['password']!)).to.equal('s3cret');
      expect(text(secrets[0]!.data['username']!)).to.equal('admin');
      expect(text(secrets[1]!.data['o.txt']!)).to.equal('o');
    });

    it('returns no Secrets for a class without secretObjects', () => {
      expect(desiredSecrets(aClass(), files)).to.deep.equal([]);
    });

    it('adds the managed label to the class labels and copies the annotations', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ labels: { app: 'web' }, annotations: { 'owner/team': 'a' } })] });
      const [secret] = desiredSecrets(spc, files);
      expect(secret!.labels).to.deep.equal({ app: 'web', [MANAGED_LABEL]: 'true' });
      expect(secret!.annotations).to.deep.equal({ 'owner/team': 'a' });
    });

    it('sets the managed label to "true" even when the class sets it to something else', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ labels: { [MANAGED_LABEL]: 'false' } })] });
      expect(desiredSecrets(spc, files)[0]!.labels[MANAGED_LABEL]).to.equal('true');
    });

    it('maps one file to several keys', () => {
      const spc = aClass({
        secretObjects: [aSecretObject({ data: [{ objectName: 'db-password', key: 'a' }, { objectName: 'db-password', key: 'b' }] })],
      });
      const [secret] = desiredSecrets(spc, files);
      expect(text(secret!.data['a']!)).to.equal('s3cret');
      expect(text(secret!.data['b']!)).to.equal('s3cret');
    });

    it('keeps a data key named like an Object.prototype member as an ordinary key', () => {
      const spc = aClass({
        secretObjects: [aSecretObject({ data: [{ objectName: 'db-password', key: '__proto__' }, { objectName: 'other', key: 'constructor' }] })],
      });
      const [secret] = desiredSecrets(spc, files);
      expect(Object.keys(secret!.data).sort()).to.deep.equal(['__proto__', 'constructor']);
      expect(text(secret!.data['__proto__']!)).to.equal('s3cret');
    });

    for (const type of SECRET_TYPES.filter((t) => t !== TLS_SECRET_TYPE)) {
      it(`accepts the Secret type ${type} and copies the bytes as they are`, () => {
        const [secret] = desiredSecrets(aClass({ secretObjects: [aSecretObject({ type })] }), files);
        expect(secret!.type).to.equal(type);
        expect(text(secret!.data['password']!)).to.equal('s3cret');
      });
    }

    it('trims blanks around the type', () => {
      expect(desiredSecrets(aClass({ secretObjects: [aSecretObject({ type: ' Opaque ' })] }), files)[0]!.type).to.equal('Opaque');
    });

    const badTypes: Array<[string, string]> = [
      ['empty', ''],
      ['lower-case opaque', 'opaque'],
      ['unknown', 'example.com/custom'],
      ['misspelt', 'kubernetes.io/tls-cert'],
    ];
    for (const [name, type] of badTypes) {
      it(`rejects an ${name} Secret type with InvalidSecretType`, () => {
        expect(codeOf(() => desiredSecrets(aClass({ secretObjects: [aSecretObject({ type })] }), files))).to.equal('InvalidSecretType');
      });
    }

    const badNames: Array<[string, string]> = [
      ['empty', ''],
      ['upper case', 'App'],
      ['with an underscore', 'app_secret'],
      ['starting with a dash', '-app'],
      ['ending with a dot', 'app.'],
      ['longer than 253 characters', 'a'.repeat(254)],
    ];
    for (const [name, secretName] of badNames) {
      it(`rejects a secretName ${name} with InvalidClass`, () => {
        expect(codeOf(() => desiredSecrets(aClass({ secretObjects: [aSecretObject({ secretName })] }), files))).to.equal('InvalidClass');
      });
    }

    it('accepts a dotted secretName of 253 characters', () => {
      const secretName = `${'a'.repeat(63)}.`.repeat(4).slice(0, 253);
      expect(desiredSecrets(aClass({ secretObjects: [aSecretObject({ secretName })] }), files)[0]!.name).to.equal(secretName);
    });

    it('rejects a secretObject without data with InvalidClass', () => {
      expect(codeOf(() => desiredSecrets(aClass({ secretObjects: [aSecretObject({ data: [] })] }), files))).to.equal('InvalidClass');
    });

    it('rejects a data entry with an empty key with InvalidClass', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ data: [{ objectName: 'db-password', key: '' }] })] });
      expect(codeOf(() => desiredSecrets(spc, files))).to.equal('InvalidClass');
    });

    it('rejects a secretObject that references a file not in the mount with SecretObjectFileMissing', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ data: [{ objectName: 'missing', key: 'k' }] })] });
      expect(() => desiredSecrets(spc, files))
        .to.throw(DomainError, '"missing"')
        .with.property('code', 'SecretObjectFileMissing');
    });

    it('fails for the whole class when any one secretObject cannot be satisfied', () => {
      const spc = aClass({
        secretObjects: [aSecretObject(), aSecretObject({ secretName: 'second', data: [{ objectName: 'absent', key: 'k' }] })],
      });
      expect(codeOf(() => desiredSecrets(spc, files))).to.equal('SecretObjectFileMissing');
    });

    it('hands kubernetes.io/tls data to the TLS conversion, which refuses keys other than tls.crt and tls.key', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ type: TLS_SECRET_TYPE, data: [{ objectName: 'db-password', key: 'ca.crt' }] })] });
      expect(codeOf(() => desiredSecrets(spc, files))).to.equal('InvalidTlsData');
    });

    it('reports a missing file of a kubernetes.io/tls secretObject as SecretObjectFileMissing', () => {
      const spc = aClass({ secretObjects: [aSecretObject({ type: TLS_SECRET_TYPE, data: [{ objectName: 'absent', key: 'tls.crt' }] })] });
      expect(codeOf(() => desiredSecrets(spc, files))).to.equal('SecretObjectFileMissing');
    });
  });

  describe('planSecretChange', () => {
    it('creates the Secret with the owners when it does not exist', () => {
      const change = planSecretChange(desired(), [replicaSet], undefined);
      expect(change).to.deep.equal({ kind: 'create', secret: { ...desired(), ownerReferences: [replicaSet] } });
    });

    it('is unchanged when the existing Secret already matches and has the owners', () => {
      expect(planSecretChange(desired(), [replicaSet], existing(desired(), [replicaSet]))).to.deep.equal({ kind: 'unchanged' });
    });

    it('is unchanged when the owners are already there among others', () => {
      const current = existing(desired(), [otherReplicaSet, { ...replicaSet, name: 'renamed' }]);
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({ kind: 'unchanged' });
    });

    it('leaves labels and annotations added by others alone (no blind overwrite)', () => {
      const current = existing(desired(), [replicaSet], {
        labels: { ...desired().labels, extra: 'kept' },
        annotations: { ...desired().annotations, 'kubectl.kubernetes.io/last-applied': '{}' },
      });
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({ kind: 'unchanged' });
    });

    it('patches only the data keys whose bytes differ and flags the data change', () => {
      const current = existing(desired(), [replicaSet], { data: { password: enc('old'), user: enc('admin') } });
      const change = planSecretChange(desired(), [replicaSet], current);
      expect(change).to.deep.equal({ kind: 'patch', patch: { data: { password: enc('s3cret') } }, dataChanged: true });
    });

    it('adds a data key that is missing', () => {
      const current = existing(desired(), [replicaSet], { data: { user: enc('admin') } });
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { data: { password: enc('s3cret') } },
        dataChanged: true,
      });
    });

    it('removes a data key the class no longer maps with null', () => {
      const current = existing(desired(), [replicaSet], { data: { ...desired().data, stale: enc('x') } });
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { data: { stale: null } },
        dataChanged: true,
      });
    });

    it('removes a stale data key named like an Object.prototype member with null', () => {
      const current = existing(desired(), [replicaSet], { data: { ...desired().data, constructor: enc('x'), toString: enc('y') } });
      const change = planSecretChange(desired(), [replicaSet], current);
      expect(change).to.deep.equal({ kind: 'patch', patch: { data: { constructor: null, toString: null } }, dataChanged: true });
    });

    it('adds a data key named like an Object.prototype member when it is missing', () => {
      const want = desired({ data: { constructor: enc('c') } });
      const current = existing(want, [replicaSet], { data: {} });
      expect(planSecretChange(want, [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { data: { constructor: enc('c') } },
        dataChanged: true,
      });
    });

    it('patches only differing labels, without flagging a data change', () => {
      const current = existing(desired(), [replicaSet], { labels: { [MANAGED_LABEL]: 'true', team: 'b', extra: 'e' } });
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { labels: { team: 'a' } },
        dataChanged: false,
      });
    });

    it('patches only differing annotations, without flagging a data change', () => {
      const current = existing(desired(), [replicaSet], { annotations: {} });
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { annotations: { note: 'x' } },
        dataChanged: false,
      });
    });

    it('appends missing owners to the existing ones instead of replacing them', () => {
      const current = existing(desired(), [otherReplicaSet]);
      expect(planSecretChange(desired(), [replicaSet], current)).to.deep.equal({
        kind: 'patch',
        patch: { ownerReferences: [otherReplicaSet, replicaSet] },
        dataChanged: false,
      });
    });

    it('does not add an owner twice when it is listed twice', () => {
      const current = existing(desired(), [replicaSet]);
      expect(planSecretChange(desired(), [replicaSet, replicaSet], current).kind).to.equal('unchanged');
    });

    it('combines data, label, annotation and owner changes in one patch', () => {
      const current = existing(desired(), [], { labels: { [MANAGED_LABEL]: 'true' }, annotations: {}, data: {} });
      const change = planSecretChange(desired(), [replicaSet], current);
      expect(change.kind).to.equal('patch');
      if (change.kind !== 'patch') return;
      expect(change.dataChanged).to.equal(true);
      expect(Object.keys(change.patch).sort()).to.deep.equal(['annotations', 'data', 'labels', 'ownerReferences']);
    });

    it('refuses a Secret not managed by the driver with SecretNotManaged', () => {
      const unmanaged: Array<Record<string, string>> = [{}, { [MANAGED_LABEL]: 'false' }, { [MANAGED_LABEL]: 'True' }];
      for (const labels of unmanaged) {
        const current = existing(desired(), [replicaSet], { labels });
        expect(() => planSecretChange(desired(), [replicaSet], current))
          .to.throw(DomainError, 'default/app-synced')
          .with.property('code', 'SecretNotManaged');
      }
    });

    it('refuses to change the type of an existing Secret with InvalidSecretType', () => {
      const current = existing(desired(), [replicaSet], { type: 'kubernetes.io/basic-auth' });
      expect(() => planSecretChange(desired(), [replicaSet], current))
        .to.throw(DomainError, 'immutable')
        .with.property('code', 'InvalidSecretType');
    });

    describe('laws (property)', () => {
      const keys = fc.constantFrom('a', 'b', 'tls.crt', 'password', 'constructor', 'x-y_z');
      const bytesArb = fc.oneof(fc.constant(enc('same')), fc.uint8Array({ maxLength: 4 }));
      const dataArb = fc.dictionary(keys, bytesArb, { maxKeys: 4, noNullPrototype: true });
      const mapArb = fc.dictionary(fc.constantFrom('app', 'team', 'env'), fc.constantFrom('1', '2'), { maxKeys: 3, noNullPrototype: true });
      const ownerArb = fc.constantFrom(replicaSet, otherReplicaSet, { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'pod-uid' });
      const desiredArb = fc.record({ labels: mapArb, annotations: mapArb, data: dataArb }).map((parts) =>
        desired({ ...parts, labels: { ...parts.labels, [MANAGED_LABEL]: 'true' } }),
      );

      it('plans no change for a Secret created from the same desired state', () => {
        fc.assert(
          fc.property(desiredArb, fc.array(ownerArb, { maxLength: 3 }), (want, owners) => {
            expect(planSecretChange(want, owners, existing(want, owners)).kind).to.equal('unchanged');
          }),
        );
      });

      it('reaches the desired data, labels, annotations and owners after applying the patch, and then plans nothing', () => {
        fc.assert(
          fc.property(desiredArb, desiredArb, fc.array(ownerArb, { maxLength: 3 }), fc.array(ownerArb, { maxLength: 3 }), (want, had, owners, hadOwners) => {
            const current = existing(had, hadOwners);
            const change = planSecretChange(want, owners, current);
            expect(change.kind).to.not.equal('create');
            const after = change.kind === 'patch' ? applyPatch(current, change.patch) : current;
            expect(after.data).to.deep.equal(want.data);
            expect(after.labels).to.include(want.labels);
            expect(after.annotations).to.include(want.annotations);
            for (const owner of [...owners, ...hadOwners]) expect(after.ownerReferences.map((o) => o.uid)).to.include(owner.uid);
            expect(after.ownerReferences.slice(0, hadOwners.length)).to.deep.equal(hadOwners);
            if (change.kind === 'patch') {
              expect(change.dataChanged).to.equal(change.patch.data !== undefined);
              expect(Object.keys(change.patch)).to.not.be.empty;
            }
            expect(planSecretChange(want, owners, after).kind).to.equal('unchanged');
          }),
        );
      });
    });
  });

  describe('withRotationMarker', () => {
    const versions = [{ id: 'db-password', version: 'v2' }];
    const NOW = Date.parse('2026-12-01T10:00:00Z');

    it('marks a patch that changes data with the digest of the versions and the time (what the restarter reads)', () => {
      const current = existing(desired(), [replicaSet], { data: { password: enc('old'), user: enc('admin') } });
      const marked = withRotationMarker(planSecretChange(desired(), [replicaSet], current), versions, NOW);
      expect(marked.kind).to.equal('patch');
      if (marked.kind !== 'patch') return;
      expect(readSecretRotationMarker(applyPatch(current, marked.patch).annotations)).to.deep.equal({ versions: syncedVersionsDigest(versions), at: NOW });
      expect(marked.patch.data).to.deep.equal({ password: enc('s3cret') });
    });

    it('leaves a create, a metadata-only patch and no change unmarked', () => {
      const create = planSecretChange(desired(), [replicaSet], undefined);
      expect(withRotationMarker(create, versions, NOW)).to.equal(create);
      const ownersOnly = planSecretChange(desired(), [replicaSet, otherReplicaSet], existing(desired(), [replicaSet]));
      expect(ownersOnly).to.deep.include({ kind: 'patch', dataChanged: false });
      expect(withRotationMarker(ownersOnly, versions, NOW)).to.equal(ownersOnly);
      const unchanged = planSecretChange(desired(), [replicaSet], existing(desired(), [replicaSet]));
      expect(withRotationMarker(unchanged, versions, NOW)).to.deep.equal({ kind: 'unchanged' });
    });
  });
});
