import { expect } from 'chai';
import { Container } from 'inversify';
import { KubernetesClient } from '../../../src/adapters/kubernetes/kubernetes-client.js';
import { kubernetesRestarterModule } from '../../../src/app/modules/kubernetes-restarter.module.js';
import { LeaseStore } from '../../../src/ports/lease-store.js';
import { PodOwners } from '../../../src/ports/pod-owners.js';

describe('kubernetesRestarterModule', () => {
  it('gives every adapter one API client and closes it when the container unbinds', async () => {
    const container = new Container();
    await container.load(
      kubernetesRestarterModule({ credentials: { server: 'https://127.0.0.1:1', tls: {}, headers: async () => ({}) }, userAgent: 'secrets-store-csi/test', leaseNamespace: 'kube-system' }),
    );
    const close = KubernetesClient.prototype.close;
    let closes = 0;
    KubernetesClient.prototype.close = function (this: KubernetesClient) {
      closes++;
      close.call(this);
    };
    try {
      container.get(PodOwners);
      container.get(LeaseStore);

      await container.unbindAll();
    } finally {
      KubernetesClient.prototype.close = close;
    }

    expect(closes).to.equal(1);
  });
});
