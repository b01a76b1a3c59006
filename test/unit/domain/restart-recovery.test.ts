import { expect } from 'chai';
import fc from 'fast-check';
import type { PodStatus } from '../../../src/domain/pod-status.js';
import {
  recoveredBinding,
  recoveryFinding,
  UNKNOWN_CLASS_GENERATION,
  type RecoverablePod,
  type RecoveryFacts,
} from '../../../src/domain/restart-recovery.js';
import { parseTargetPath } from '../../../src/domain/target-path.js';
import { parseVolumeRequest, UNKNOWN_VOLUME_ID, type VolumeRequest } from '../../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { KUBELET_ROOT, targetPathFor } from '../../support/builders.js';
import { stringMap } from '../../support/domain-arbitraries.js';

const POD_UID = 'pod-uid-1';

function aStatus(overrides: Partial<PodStatus> = {}): PodStatus {
  return {
    namespace: 'default',
    name: 'app-0-default-app-secrets',
    podName: 'app-0',
    podUid: POD_UID,
    secretProviderClassName: 'app-secrets',
    mounted: true,
    targetPath: targetPathFor(POD_UID),
    nodeName: 'node-1',
    objects: [{ id: 'db-password', version: 'v1' }],
    ...overrides,
  };
}

function aPod(overrides: Partial<RecoverablePod> = {}): RecoverablePod {
  return {
    namespace: 'default',
    name: 'app-0',
    uid: POD_UID,
    serviceAccountName: 'app',
    csiVolumes: [{ name: 'secrets', volumeAttributes: { [VolumeContextKey.secretProviderClass]: 'app-secrets', usePodIdentity: 'false' } }],
    ...overrides,
  };
}

function facts(overrides: Partial<RecoveryFacts> = {}): RecoveryFacts {
  const status = overrides.status ?? aStatus();
  return { status, target: parseTargetPath(status.targetPath, KUBELET_ROOT), targetMounted: true, pod: aPod(), ...overrides };
}

function recoveredRequest(given: RecoveryFacts): VolumeRequest {
  const finding = recoveryFinding(given);
  if (finding.kind !== 'recovered') throw new Error(`expected a recovery, got ${finding.kind}: ${finding.reason}`);
  return finding.request;
}

describe('domain/restart-recovery', () => {
  describe('recoveryFinding', () => {
    it('rebuilds the request kubelet sent for a mount of a live pod, without its volume id or credentials', () => {
      const given = facts();
      const finding = recoveryFinding(given);

      expect(finding).to.deep.equal({
        kind: 'recovered',
        pod: given.pod,
        request: {
          volumeId: UNKNOWN_VOLUME_ID,
          target: { path: targetPathFor(POD_UID), podUid: POD_UID, volumeName: 'secrets' },
          pod: { namespace: 'default', name: 'app-0', uid: POD_UID, serviceAccountName: 'app' },
          className: 'app-secrets',
          volumeContext: {
            [VolumeContextKey.secretProviderClass]: 'app-secrets',
            usePodIdentity: 'false',
            [VolumeContextKey.podName]: 'app-0',
            [VolumeContextKey.podNamespace]: 'default',
            [VolumeContextKey.podUid]: POD_UID,
            [VolumeContextKey.serviceAccountName]: 'app',
            [VolumeContextKey.ephemeral]: 'true',
          },
          nodePublishSecrets: {},
          serviceAccountTokens: undefined,
          mountGroup: undefined,
        },
      });
    });

    it("lets kubelet's pod information win over volume attributes of the same name, as kubelet does", () => {
      const attributes = { [VolumeContextKey.secretProviderClass]: 'app-secrets', [VolumeContextKey.podName]: 'spoofed', [VolumeContextKey.ephemeral]: 'false' };
      const request = recoveredRequest(facts({ pod: aPod({ csiVolumes: [{ name: 'secrets', volumeAttributes: attributes }] }) }));
      expect(request.volumeContext).to.include({ [VolumeContextKey.podName]: 'app-0', [VolumeContextKey.ephemeral]: 'true' });
    });

    it('picks the pod volume the target path names', () => {
      const status = aStatus({ targetPath: targetPathFor(POD_UID, 'second') });
      const pod = aPod({
        csiVolumes: [
          { name: 'first', volumeAttributes: { [VolumeContextKey.secretProviderClass]: 'app-secrets', which: 'first' } },
          { name: 'second', volumeAttributes: { [VolumeContextKey.secretProviderClass]: 'app-secrets', which: 'second' } },
        ],
      });
      expect(recoveredRequest(facts({ status, pod })).volumeContext['which']).to.equal('second');
    });

    const notRecovered: Array<[string, Partial<RecoveryFacts>, string, RegExp]> = [
      ['a record that says it is not mounted', { status: aStatus({ mounted: false }) }, 'stale', /not mounted/],
      ['a target where nothing is mounted', { targetMounted: false }, 'stale', /nothing is mounted/],
      ['a target where nothing is mounted, even when the pod is gone', { targetMounted: false, pod: undefined }, 'stale', /nothing is mounted/],
      ['a mount whose pod is gone', { pod: undefined }, 'orphaned', /pod default\/app-0 no longer exists/],
      ['a mount whose pod was replaced by one of the same name', { pod: aPod({ uid: 'new-uid' }) }, 'orphaned', /now uid new-uid; the target belongs to uid pod-uid-1/],
      ['a pod without the volume the target names', { pod: aPod({ csiVolumes: [] }) }, 'unrecoverable', /no csi volume "secrets"/],
      [
        'a pod volume naming another class than the record',
        { pod: aPod({ csiVolumes: [{ name: 'secrets', volumeAttributes: { [VolumeContextKey.secretProviderClass]: 'other' } }] }) },
        'unrecoverable',
        /names class "other", the record "app-secrets"/,
      ],
      ['a pod volume naming no class', { pod: aPod({ csiVolumes: [{ name: 'secrets', volumeAttributes: {} }] }) }, 'unrecoverable', /names class ""/],
    ];
    for (const [what, given, kind, reason] of notRecovered) {
      it(`finds ${what} ${kind}`, () => {
        const finding = recoveryFinding(facts(given));
        expect(finding.kind).to.equal(kind);
        expect(finding).to.have.property('reason').that.matches(reason);
      });
    }

    it('rebuilds what parseVolumeRequest makes of the command kubelet would send (property)', () => {
      // kubelet's token key is left out: parseVolumeRequest reads it as credentials, recovery has none.
      const attributes = stringMap.map((map) => {
        const { [VolumeContextKey.serviceAccountTokens]: _tokens, ...rest } = map;
        return rest;
      });
      const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,12}$/);
      fc.assert(
        fc.property(attributes, name, name, name, name, (volumeAttributes, podName, namespace, serviceAccountName, className) => {
          const status = aStatus({ podName, namespace, secretProviderClassName: className });
          const pod = aPod({
            name: podName,
            namespace,
            serviceAccountName,
            csiVolumes: [{ name: 'secrets', volumeAttributes: { ...volumeAttributes, [VolumeContextKey.secretProviderClass]: className } }],
          });
          const request = recoveredRequest(facts({ status, pod }));
          const command = { volumeId: 'csi-kubelet', targetPath: status.targetPath, readonly: true, volumeContext: request.volumeContext, secrets: {} };
          expect(parseVolumeRequest(command, KUBELET_ROOT)).to.deep.equal({ ...request, volumeId: 'csi-kubelet' });
        }),
      );
    });
  });

  describe('recoveredBinding', () => {
    const request = recoveredRequest(facts());

    it('mounts the versions of the record, with an unknown class generation so the first check syncs the Secrets', () => {
      const status = aStatus({ rotation: { lastRotationTime: 5, nextRotationTime: 9 } });
      expect(recoveredBinding(request, status, 'vault', 1_000)).to.deep.equal({
        request,
        providerName: 'vault',
        objectVersions: status.objects,
        classGeneration: UNKNOWN_CLASS_GENERATION,
        secretsInSync: true,
        mountedAt: 1_000,
        contentConfirmedAt: 1_000,
        rotationReport: { lastRotationTime: 5, nextRotationTime: 9 },
      });
    });

    it('has an empty rotation report when the record has none', () => {
      expect(recoveredBinding(request, aStatus(), 'vault', 0).rotationReport).to.deep.equal({});
    });
  });
});
