import { expect } from 'chai';
import fc from 'fast-check';
import { toSecretProviderClass } from '../../../../src/adapters/kube-objects/class-mapping.js';
import { eventName, toEventResource } from '../../../../src/adapters/kube-objects/event-mapping.js';
import { toKubeTime } from '../../../../src/adapters/kube-objects/object-shapes.js';
import { toPodInfo } from '../../../../src/adapters/kube-objects/pod-mapping.js';
import { toPodStatusObject, toStoredPodStatus } from '../../../../src/adapters/kube-objects/pod-status-mapping.js';
import { toCurrentSecret, toSecretMergePatch, toSecretResource } from '../../../../src/adapters/kube-objects/secret-mapping.js';
import { sortObjectVersions } from '../../../../src/domain/object-versions.js';
import { NODE_NAME_LABEL } from '../../../../src/domain/pod-status.js';
import { aClassResource, aNewSecret, aPodResource, aPodStatusFor } from '../../../support/cluster-builders.js';

const podOwner = { apiVersion: 'v1', kind: 'Pod', name: 'app-0', uid: 'pod-uid' };

describe('Kubernetes object mapping', () => {
  describe('SecretProviderClass', () => {
    it('fills absent parameters, secretObjects, annotations and secretObject fields with empty values', () => {
      const object = aClassResource();
      object.spec = { provider: 'fake', secretObjects: [{ secretName: 's' }] };
      expect(toSecretProviderClass(object)).to.deep.include({
        parameters: {},
        annotations: {},
        secretObjects: [{ secretName: 's', type: '', labels: {}, annotations: {}, data: [] }],
      });
    });

    it('maps uid, generation and annotations from metadata', () => {
      const object = aClassResource({ annotations: { a: 'b' } });
      object.metadata = { ...object.metadata, uid: 'u', generation: 3 };
      expect(toSecretProviderClass(object)).to.deep.include({ uid: 'u', generation: 3, annotations: { a: 'b' }, provider: 'fake' });
    });
  });

  describe('SecretProviderClassPodStatus', () => {
    it('labels the object with the node, owns it by the pod and keeps status top-level', () => {
      const object = toPodStatusObject(aPodStatusFor(aPodResource({ uid: 'pod-uid' }), { nodeName: 'n1' }), podOwner);
      expect(object.metadata.labels).to.deep.equal({ [NODE_NAME_LABEL]: 'n1' });
      expect(object.metadata.ownerReferences).to.deep.equal([podOwner]);
      expect(object.status).to.have.keys('podName', 'secretProviderClassName', 'mounted', 'targetPath', 'objects');
    });

    it('reads back what it wrote, with versions sorted by id', () => {
      const versions = fc.array(fc.record({ id: fc.string(), version: fc.string() }), { maxLength: 6 });
      fc.assert(
        fc.property(versions, (objects) => {
          const status = aPodStatusFor(aPodResource({ uid: 'pod-uid' }), { objects, podUid: 'pod-uid' });
          const stored = toStoredPodStatus({ ...toPodStatusObject(status, podOwner), metadata: { ...toPodStatusObject(status, podOwner).metadata, uid: 'x' } });
          expect(stored).to.deep.equal({ ...status, objects: sortObjectVersions(objects), uid: 'x' });
        }),
      );
    });

    it('round-trips the rotation fields in whole seconds and omits the absent ones', () => {
      const second = fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000);
      const report = fc.record({ lastRotationTime: second, lastRotationError: fc.string({ minLength: 1 }), nextRotationTime: second }, { requiredKeys: [] });
      fc.assert(
        fc.property(report, (rotation) => {
          const status = { ...aPodStatusFor(aPodResource({ uid: 'pod-uid' }), { podUid: 'pod-uid' }), rotation };
          const object = toPodStatusObject(status, podOwner);
          expect(Object.keys(object.status!).filter((key) => key.endsWith('Rotation') || key.startsWith('lastRotation') || key.startsWith('nextRotation')).sort()).to.deep.equal(Object.keys(rotation).sort());
          const stored = toStoredPodStatus(object);
          expect(stored.rotation ?? {}).to.deep.equal(rotation);
        }),
      );
    });

    it('reads rotation times it cannot parse (a user edit) and an empty error as absent', () => {
      const object = toPodStatusObject(aPodStatusFor(aPodResource({ uid: 'pod-uid' })), podOwner);
      object.status = { ...object.status, lastRotationTime: 'yesterday', lastRotationError: '', nextRotationTime: '2026-11-27T10:00:00Z' };
      expect(toStoredPodStatus(object).rotation).to.deep.equal({ nextRotationTime: Date.parse('2026-11-27T10:00:00Z') });
    });
  });

  describe('Secret', () => {
    it('round-trips any bytes through base64 data', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.stringMatching(/^[-._a-zA-Z0-9]{1,8}$/), fc.uint8Array({ maxLength: 64 })), (data) => {
          expect(toCurrentSecret(toSecretResource(aNewSecret({ data }))).data).to.deep.equal(data);
        }),
      );
    });

    it('encodes data as standard base64 text', () => {
      const object = toSecretResource(aNewSecret({ data: { k: Uint8Array.from([0xfb, 0xff]) } }));
      expect(object.data).to.deep.equal({ k: '+/8=' });
    });

    it('builds a merge patch with only the fields given, null for removed keys and the full owner list', () => {
      expect(toSecretMergePatch({ data: { a: Uint8Array.from([104, 105]), gone: null } })).to.deep.equal({ data: { a: 'aGk=', gone: null } });
      expect(toSecretMergePatch({ labels: { l: '1' }, ownerReferences: [podOwner] })).to.deep.equal({
        metadata: { labels: { l: '1' }, ownerReferences: [podOwner] },
      });
      expect(toSecretMergePatch({})).to.deep.equal({});
    });

    it('reads an absent type as Opaque', () => {
      const object = toSecretResource(aNewSecret());
      delete object.type;
      expect(toCurrentSecret(object).type).to.equal('Opaque');
    });
  });

  describe('Pod', () => {
    it('is terminating exactly when it has a deletionTimestamp', () => {
      expect(toPodInfo(aPodResource()).terminating).to.equal(false);
      expect(toPodInfo(aPodResource({ deletionTimestamp: '2026-01-01T00:00:00Z' })).terminating).to.equal(true);
    });

    it('defaults absent annotations and owners to empty values', () => {
      expect(toPodInfo(aPodResource())).to.deep.include({ annotations: {}, ownerReferences: [], phase: 'Running' });
    });

    it('keeps the service account (defaulted as the API server does) and every csi volume with its secret ref', () => {
      const resource = aPodResource();
      resource.spec!.volumes!.push({ name: 'other', csi: { driver: 'other.csi', nodePublishSecretRef: { name: 'creds' } } }, { name: 'plain' });
      expect(toPodInfo(resource)).to.deep.include({
        serviceAccountName: 'app',
        csiVolumes: [
          { name: 'secrets', driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: 'app-secrets' }, nodePublishSecretRef: undefined },
          { name: 'other', driver: 'other.csi', readOnly: false, volumeAttributes: {}, nodePublishSecretRef: 'creds' },
        ],
      });
      delete resource.spec!.serviceAccountName;
      expect(toPodInfo(resource).serviceAccountName).to.equal('default');
    });
  });

  describe('Event', () => {
    it('records on the pod with the driver as source, count 1 and whole-second timestamps', () => {
      const time = Date.parse('2026-01-02T03:04:05.678Z');
      const event = toEventResource(
        { pod: { namespace: 'ns', name: 'p', uid: 'u' }, type: 'Warning', reason: 'MountRotationFailed', message: 'm' },
        { name: eventName('p', time), timeMs: time },
      );
      expect(event).to.deep.include({
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p', uid: 'u' },
        reason: 'MountRotationFailed',
        type: 'Warning',
        message: 'm',
        source: { component: 'secrets-store-csi-driver' },
        count: 1,
        firstTimestamp: '2026-01-02T03:04:05Z',
        lastTimestamp: '2026-01-02T03:04:05Z',
      });
      expect(event.metadata).to.deep.equal({ name: `p.${(BigInt(time) * 1_000_000n).toString(16)}`, namespace: 'ns' });
    });

    it('formats times as RFC 3339 in whole seconds', () => {
      expect(toKubeTime(Date.parse('2026-01-02T03:04:05.999Z'))).to.equal('2026-01-02T03:04:05Z');
    });
  });
});
