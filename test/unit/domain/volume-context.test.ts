import { expect } from 'chai';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';

describe('domain/volume-context', () => {
  it('names the keys exactly as kubelet sends them with podInfoOnMount (wire contract)', () => {
    expect(VolumeContextKey).to.deep.equal({
      secretProviderClass: 'secretProviderClass',
      podName: 'csi.storage.k8s.io/pod.name',
      podNamespace: 'csi.storage.k8s.io/pod.namespace',
      podUid: 'csi.storage.k8s.io/pod.uid',
      serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
      serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
      ephemeral: 'csi.storage.k8s.io/ephemeral',
    });
  });

  it('has one distinct key per meaning', () => {
    const values = Object.values(VolumeContextKey);
    expect(new Set(values).size).to.equal(values.length);
  });
});
