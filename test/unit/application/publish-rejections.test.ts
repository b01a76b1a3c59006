import { expect } from 'chai';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { KUBELET_ROOT } from '../../support/builders.js';
import { expectNoSecretLeaked, expectNothingWritten, expectRejection } from '../../support/driver-assertions.js';
import { aSyncedPassword, CLASS_NAME, DriverHarness, type TestPod } from '../../support/driver-harness.js';

describe('Refusing a publish request, the class or the provider answer', () => {
  let harness: DriverHarness;
  let pod: TestPod;

  beforeEach(() => {
    harness = new DriverHarness();
    pod = harness.addPod();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  const withoutKey = (key: string): Record<string, string> => {
    const { [key]: _dropped, ...rest } = harness.commandFor(pod).volumeContext;
    return rest;
  };

  describe('the request', () => {
    beforeEach(() => harness.addClass({ secretObjects: [aSyncedPassword()] }));

    const badTargets = {
      'not ending in /mount': (uid: string) => `${KUBELET_ROOT}/pods/${uid}/volumes/kubernetes.io~csi/secrets`,
      'outside the kubelet root': (uid: string) => `/tmp/pods/${uid}/volumes/kubernetes.io~csi/secrets/mount`,
      'of another volume plugin': (uid: string) => `${KUBELET_ROOT}/pods/${uid}/volumes/kubernetes.io~secret/secrets/mount`,
      'climbing out with ..': () => `${KUBELET_ROOT}/pods/../volumes/kubernetes.io~csi/secrets/mount`,
      'that is relative': (uid: string) => `pods/${uid}/volumes/kubernetes.io~csi/secrets/mount`,
    };
    for (const [shape, pathFor] of Object.entries(badTargets)) {
      it(`refuses a target path ${shape} (InvalidTargetPath) and writes nothing`, async () => {
        const targetPath = pathFor(pod.uid);

        await expectRejection(harness.publish(pod, CLASS_NAME, { targetPath }), 'InvalidTargetPath');

        expect(harness.exists(targetPath)).to.equal(false);
        expect(harness.provider.calls).to.equal(0);
        await expectNothingWritten(harness, pod);
      });
    }

    const requiredKeys = [VolumeContextKey.secretProviderClass, VolumeContextKey.podName, VolumeContextKey.podNamespace, VolumeContextKey.podUid];
    for (const key of requiredKeys) {
      it(`refuses a volume_context without "${key}" (MissingVolumeContext) and writes nothing`, async () => {
        await expectRejection(harness.publish(pod, CLASS_NAME, { volumeContext: withoutKey(key) }), 'MissingVolumeContext');

        expect(harness.provider.calls).to.equal(0);
        await expectNothingWritten(harness, pod);
      });

      it(`refuses a volume_context with an empty "${key}" (MissingVolumeContext) and writes nothing`, async () => {
        const volumeContext = { ...harness.commandFor(pod).volumeContext, [key]: '' };

        await expectRejection(harness.publish(pod, CLASS_NAME, { volumeContext }), 'MissingVolumeContext');

        expect(harness.provider.calls).to.equal(0);
        await expectNothingWritten(harness, pod);
      });
    }

    it('refuses a writable volume (InvalidReadonly) and writes nothing', async () => {
      await expectRejection(harness.publish(pod, CLASS_NAME, { readonly: false }), 'InvalidReadonly');

      await expectNothingWritten(harness, pod);
    });

    it('refuses a pod uid that differs from the one in the target path (InvalidVolumeContext) and writes nothing', async () => {
      const volumeContext = { ...harness.commandFor(pod).volumeContext, [VolumeContextKey.podUid]: 'someone-else' };

      await expectRejection(harness.publish(pod, CLASS_NAME, { volumeContext }), 'InvalidVolumeContext');

      await expectNothingWritten(harness, pod);
    });

    it('refuses a malformed republish and keeps the published mount byte for byte', async () => {
      await harness.publish(pod);
      const before = await harness.snapshot(pod.target);
      const secretVersion = harness.secret('app-synced')?.metadata.resourceVersion;

      await expectRejection(harness.publish(pod, CLASS_NAME, { volumeContext: withoutKey(VolumeContextKey.podName) }), 'MissingVolumeContext');

      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.secret('app-synced')?.metadata.resourceVersion).to.equal(secretVersion);
      expect(harness.registry.get(pod.target)).to.not.equal(undefined);
    });
  });

  describe('the class', () => {
    it('refuses a class that does not exist in the pod namespace (ClassNotFound) and writes nothing', async () => {
      harness.addClass({ namespace: 'elsewhere' });

      await expectRejection(harness.publish(pod), 'ClassNotFound');

      expect(harness.provider.calls).to.equal(0);
      expect(harness.metrics.count('node_publish_error_total', { error_type: 'ClassNotFound' })).to.equal(1);
      await expectNothingWritten(harness, pod);
    });

    it('refuses a class without a provider (InvalidClass) and writes nothing', async () => {
      harness.addClass({ provider: '' });

      await expectRejection(harness.publish(pod), 'InvalidClass');

      expect(harness.provider.calls).to.equal(0);
      await expectNothingWritten(harness, pod);
    });

    it('refuses a class without parameters (InvalidClass) and writes nothing', async () => {
      harness.addClass({ parameters: {} });

      await expectRejection(harness.publish(pod), 'InvalidClass');

      expect(harness.provider.calls).to.equal(0);
      await expectNothingWritten(harness, pod);
    });
  });

  describe('the provider', () => {
    beforeEach(() => harness.addClass({ secretObjects: [aSyncedPassword()] }));

    it('fails with the provider error code (ProviderError) and writes nothing', async () => {
      harness.fake.fail({ kind: 'provider-error', code: 'VaultSealed' });

      const error = await expectRejection(harness.publish(pod), 'ProviderError');

      expect(error.providerCode).to.equal('VaultSealed');
      expect(error.message).to.contain('VaultSealed');
      // The code is in the message; as a metric label it is Other (not a gRPC status name).
      expect(harness.metrics.count('node_publish_error_total', { error_type: 'Other' })).to.equal(1);
      expect(harness.metrics.count('node_publish_total')).to.equal(0);
      await expectNothingWritten(harness, pod);
    });

    it('fails when the provider cannot be reached (ProviderUnavailable) and writes nothing', async () => {
      harness.fake.fail({ kind: 'unavailable' });

      await expectRejection(harness.publish(pod), 'ProviderUnavailable');

      await expectNothingWritten(harness, pod);
    });

    it('fails when the provider returns no object versions (MissingObjectVersions) and writes nothing', async () => {
      harness.provider.answerWith((answer) => ({ ...answer, objectVersions: [] }));

      await expectRejection(harness.publish(pod), 'MissingObjectVersions');

      await expectNothingWritten(harness, pod);
    });

    it('publishes again cleanly once the provider recovers (kubelet retries)', async () => {
      harness.fake.fail({ kind: 'unavailable' });
      await expectRejection(harness.publish(pod), 'ProviderUnavailable');
      harness.fake.fail(undefined);

      await harness.publish(pod);

      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
    });
  });
});
