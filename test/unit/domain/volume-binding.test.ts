import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import { parseVolumeRequest, sameVolume, UNKNOWN_VOLUME_ID, type PublishCommand, type VolumeRequest } from '../../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { aPublishCommand, KUBELET_ROOT, targetPathFor } from '../../support/builders.js';
import { codeOf } from '../../support/domain-error-code.js';


function withContext(changes: Record<string, string | undefined>, base: PublishCommand = aPublishCommand()): PublishCommand {
  const volumeContext: Record<string, string> = { ...base.volumeContext };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete volumeContext[key];
    else volumeContext[key] = value;
  }
  return { ...base, volumeContext };
}

const TOKENS = '{"vault":{"token":"eyJ.a.b","expirationTimestamp":"2026-01-01T00:00:00Z"}}';
const OTHER_TOKENS = '{"aws":{"token":"eyJ.c.d","expirationTimestamp":"2026-01-01T00:00:00Z"}}';

describe('domain/volume-binding', () => {
  describe('parseVolumeRequest', () => {
    describe("the pod's fsGroup (volume_capability.mount.volume_mount_group)", () => {
      const groupOf = (volumeMountGroup?: string) => parseVolumeRequest({ ...aPublishCommand(), ...(volumeMountGroup === undefined ? {} : { volumeMountGroup }) }, KUBELET_ROOT).mountGroup;
      it('is none when kubelet passes none or an empty one', () => {
        expect(groupOf()).to.equal(undefined);
        expect(groupOf('')).to.equal(undefined);
      });
      for (const [value, group] of [['0', 0], ['2000', 2000], ['4294967294', 4294967294]] as const) {
        it(`reads "${value}" as group ${group}`, () => expect(groupOf(value)).to.equal(group));
      }
      for (const value of ['-1', '1e3', ' 2000', '2000 ', '0x10', '4294967295', '99999999999', 'wheel', '20.5']) {
        it(`refuses ${JSON.stringify(value)} with InvalidVolumeContext`, () => {
          expect(() => groupOf(value))
            .to.throw(DomainError)
            .with.property('message', `volume_capability.mount.volume_mount_group "${value}" is not a group id (a decimal number from 0 to 4294967294)`);
        });
      }
    });

    it('extracts volume id, target, pod identity and class from a valid kubelet request', () => {
      const command = aPublishCommand({ podUid: 'uid-7', podName: 'web-1', className: 'db-creds' });
      const request = parseVolumeRequest(command, KUBELET_ROOT);
      expect(request.volumeId).to.equal('csi-uid-7');
      expect(request.target).to.deep.equal({ path: targetPathFor('uid-7'), podUid: 'uid-7', volumeName: 'secrets' });
      expect(request.pod).to.deep.equal({ namespace: 'default', name: 'web-1', uid: 'uid-7', serviceAccountName: 'app' });
      expect(request.className).to.equal('db-creds');
      expect(request.volumeContext).to.deep.equal(command.volumeContext);
      expect(request.nodePublishSecrets).to.deep.equal({});
      expect(request.serviceAccountTokens).to.equal(undefined);
    });

    it('copies the volume context so later changes to the command do not leak in', () => {
      const command = aPublishCommand();
      const request = parseVolumeRequest(command, KUBELET_ROOT);
      expect(request.volumeContext).to.not.equal(command.volumeContext);
      (command.volumeContext as Record<string, string>)['extra'] = 'x';
      expect(request.volumeContext).to.not.have.property('extra');
    });

    it('defaults the service account name to empty when kubelet did not send it', () => {
      const command = withContext({ [VolumeContextKey.serviceAccountName]: undefined });
      expect(parseVolumeRequest(command, KUBELET_ROOT).pod.serviceAccountName).to.equal('');
    });

    it('keeps extra volume attributes in the volume context', () => {
      const command = withContext({ usePodIdentity: 'false', [VolumeContextKey.ephemeral]: 'true' });
      expect(parseVolumeRequest(command, KUBELET_ROOT).volumeContext).to.include({ usePodIdentity: 'false', [VolumeContextKey.ephemeral]: 'true' });
    });

    it('rejects an empty volume_id with InvalidVolumeContext', () => {
      expect(codeOf(() => parseVolumeRequest({ ...aPublishCommand(), volumeId: '' }, KUBELET_ROOT))).to.equal('InvalidVolumeContext');
    });

    it('rejects a target path not of the kubelet shape with InvalidTargetPath', () => {
      const command = { ...aPublishCommand(), targetPath: `${KUBELET_ROOT}/pods/pod-uid-1/volumes/kubernetes.io~csi/secrets` };
      expect(codeOf(() => parseVolumeRequest(command, KUBELET_ROOT))).to.equal('InvalidTargetPath');
    });

    it('rejects a target path outside the kubelet root with InvalidTargetPath', () => {
      const command = { ...aPublishCommand(), targetPath: targetPathFor('pod-uid-1', 'secrets', '/tmp/evil') };
      expect(codeOf(() => parseVolumeRequest(command, KUBELET_ROOT))).to.equal('InvalidTargetPath');
    });

    it('rejects readonly false with InvalidReadonly', () => {
      expect(codeOf(() => parseVolumeRequest({ ...aPublishCommand(), readonly: false }, KUBELET_ROOT))).to.equal('InvalidReadonly');
    });

    const requiredKeys: Array<[string, string]> = [
      ['the class name', VolumeContextKey.secretProviderClass],
      ['the pod name', VolumeContextKey.podName],
      ['the pod namespace', VolumeContextKey.podNamespace],
      ['the pod uid', VolumeContextKey.podUid],
    ];
    for (const [what, key] of requiredKeys) {
      it(`rejects a volume_context without ${what} (${key}) with MissingVolumeContext`, () => {
        const command = withContext({ [key]: undefined });
        expect(() => parseVolumeRequest(command, KUBELET_ROOT)).to.throw(DomainError, key).with.property('code', 'MissingVolumeContext');
      });

      it(`rejects a volume_context with an empty ${what} (${key}) with MissingVolumeContext`, () => {
        expect(codeOf(() => parseVolumeRequest(withContext({ [key]: '' }), KUBELET_ROOT))).to.equal('MissingVolumeContext');
      });

      it(`rejects a volume_context whose ${what} (${key}) is only whitespace with MissingVolumeContext`, () => {
        expect(codeOf(() => parseVolumeRequest(withContext({ [key]: ' \t ' }), KUBELET_ROOT))).to.equal('MissingVolumeContext');
      });
    }

    it('rejects a pod uid in volume_context that differs from the target path with InvalidVolumeContext', () => {
      const command = withContext({ [VolumeContextKey.podUid]: 'another-uid' });
      expect(() => parseVolumeRequest(command, KUBELET_ROOT))
        .to.throw(DomainError, 'another-uid')
        .with.property('code', 'InvalidVolumeContext');
    });

    it('checks the target path before readonly and the context (the first problem wins)', () => {
      const command: PublishCommand = { ...aPublishCommand(), targetPath: '/tmp/x', readonly: false, volumeContext: {} };
      expect(codeOf(() => parseVolumeRequest(command, KUBELET_ROOT))).to.equal('InvalidTargetPath');
      expect(codeOf(() => parseVolumeRequest({ ...command, targetPath: targetPathFor('pod-uid-1') }, KUBELET_ROOT))).to.equal('InvalidReadonly');
    });

    describe('service-account tokens', () => {
      it('reads the tokens from secrets (Kubernetes >= 1.35) and removes them from the node-publish secrets', () => {
        const command = { ...aPublishCommand(), secrets: { username: 'u', [VolumeContextKey.serviceAccountTokens]: TOKENS } };
        const request = parseVolumeRequest(command, KUBELET_ROOT);
        expect(request.serviceAccountTokens).to.equal(TOKENS);
        expect(request.nodePublishSecrets).to.deep.equal({ username: 'u' });
      });

      it('reads the tokens from volume_context when secrets carry none', () => {
        const command = withContext({ [VolumeContextKey.serviceAccountTokens]: TOKENS });
        expect(parseVolumeRequest(command, KUBELET_ROOT).serviceAccountTokens).to.equal(TOKENS);
      });

      it('prefers the tokens in secrets over those in volume_context', () => {
        const command = {
          ...withContext({ [VolumeContextKey.serviceAccountTokens]: OTHER_TOKENS }),
          secrets: { [VolumeContextKey.serviceAccountTokens]: TOKENS },
        };
        expect(parseVolumeRequest(command, KUBELET_ROOT).serviceAccountTokens).to.equal(TOKENS);
      });

      it('falls back to volume_context when the tokens in secrets are empty, and still strips the key', () => {
        const command = {
          ...withContext({ [VolumeContextKey.serviceAccountTokens]: OTHER_TOKENS }),
          secrets: { [VolumeContextKey.serviceAccountTokens]: '', password: 'p' },
        };
        const request = parseVolumeRequest(command, KUBELET_ROOT);
        expect(request.serviceAccountTokens).to.equal(OTHER_TOKENS);
        expect(request.nodePublishSecrets).to.deep.equal({ password: 'p' });
      });

      it('has no tokens when both places hold empty text', () => {
        const command = { ...withContext({ [VolumeContextKey.serviceAccountTokens]: '' }), secrets: { [VolumeContextKey.serviceAccountTokens]: '' } };
        expect(parseVolumeRequest(command, KUBELET_ROOT).serviceAccountTokens).to.equal(undefined);
      });

      it('never leaves the tokens key in the node-publish secrets (property)', () => {
        fc.assert(
          fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 5 }), fc.option(fc.string()), (secrets, tokens) => {
            const all = tokens === null ? secrets : { ...secrets, [VolumeContextKey.serviceAccountTokens]: tokens };
            const request = parseVolumeRequest({ ...aPublishCommand(), secrets: all }, KUBELET_ROOT);
            expect(Object.keys(request.nodePublishSecrets)).to.not.include(VolumeContextKey.serviceAccountTokens);
            const { [VolumeContextKey.serviceAccountTokens]: _removed, ...rest } = all;
            expect(request.nodePublishSecrets).to.deep.equal(rest);
            expect(request.serviceAccountTokens).to.equal(tokens === null || tokens === '' ? undefined : tokens);
          }),
        );
      });
    });
  });

  describe('sameVolume', () => {
    const base = parseVolumeRequest(aPublishCommand(), KUBELET_ROOT);

    it('is true for two parses of the same request', () => {
      expect(sameVolume(base, parseVolumeRequest(aPublishCommand(), KUBELET_ROOT))).to.equal(true);
    });

    it('ignores fresh tokens and secrets (a kubelet republish stays the same volume)', () => {
      const republish = parseVolumeRequest({ ...aPublishCommand(), secrets: { [VolumeContextKey.serviceAccountTokens]: TOKENS, a: 'b' } }, KUBELET_ROOT);
      expect(sameVolume(base, republish)).to.equal(true);
    });

    const differing: Array<[string, (r: VolumeRequest) => VolumeRequest]> = [
      ['volume id', (r) => ({ ...r, volumeId: 'csi-other' })],
      ['target path', (r) => ({ ...r, target: { ...r.target, path: `${r.target.path}x` } })],
      ['class name', (r) => ({ ...r, className: 'other-class' })],
      ['pod uid', (r) => ({ ...r, pod: { ...r.pod, uid: 'other' } })],
      ['pod namespace', (r) => ({ ...r, pod: { ...r.pod, namespace: 'other' } })],
      ['pod name', (r) => ({ ...r, pod: { ...r.pod, name: 'other' } })],
    ];
    for (const [field, change] of differing) {
      it(`is false when the ${field} differs (either way round)`, () => {
        expect(sameVolume(base, change(base))).to.equal(false);
        expect(sameVolume(change(base), base)).to.equal(false);
      });
    }
  });

  describe('sameVolume with a request rebuilt after a restart (unknown volume id)', () => {
    const kubelets = parseVolumeRequest(aPublishCommand(), KUBELET_ROOT);
    const recovered: VolumeRequest = { ...kubelets, volumeId: UNKNOWN_VOLUME_ID };

    it("accepts kubelet's volume id when the registered request has none", () => {
      expect(sameVolume(recovered, kubelets)).to.equal(true);
      expect(sameVolume(recovered, { ...kubelets, volumeId: 'csi-any-other' })).to.equal(true);
    });

    it('accepts no unknown id from the incoming side: a registered id is kept', () => {
      expect(sameVolume(kubelets, recovered)).to.equal(false);
    });

    it('still compares everything else', () => {
      expect(sameVolume(recovered, { ...kubelets, className: 'other-class' })).to.equal(false);
      expect(sameVolume(recovered, { ...kubelets, pod: { ...kubelets.pod, uid: 'other' } })).to.equal(false);
    });
  });
});
