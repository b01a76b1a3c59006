import { expect } from 'chai';
import type { KubeObject, PodResource, ReplicaSetResource, WorkloadResource } from '../../src/adapters/kube-objects/object-shapes.js';
import type { PodOwners } from '../../src/ports/pod-owners.js';
import { aPodResource } from '../support/cluster-builders.js';
import { aDaemonSetResource, aDeploymentResource, aReplicaSetResource, aStatefulSetResource, controllerRef } from '../support/workload-builders.js';

export interface PodOwnersFixture {
  readonly owners: PodOwners;
  readonly namespace: string;
  /** Creates an object (a pod, a ReplicaSet, a workload) and returns it as stored. */
  create<T extends PodResource | ReplicaSetResource | WorkloadResource>(object: T): Promise<T>;
  deletePod(namespace: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/** The PodOwners port contract. */
export function podOwnersContract(makeFixture: () => Promise<PodOwnersFixture>): void {
  describe('PodOwners contract', () => {
    let fixture: PodOwnersFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    const podOwnedBy = async (name: string, owner?: KubeObject): Promise<PodResource> =>
      fixture.create(aPodResource({ namespace, name, ...(owner ? { ownerReferences: [controllerRef(owner)] } : {}) }));
    const ownerOf = (pod: PodResource) => fixture.owners.ownerOf({ namespace, name: pod.metadata.name, uid: pod.metadata.uid! });

    it('finds the Deployment of a pod through its ReplicaSet, and the pod creation time', async () => {
      const deployment = await fixture.create(aDeploymentResource({ namespace, name: 'web' }));
      const replicaSet = await fixture.create(aReplicaSetResource({ namespace, name: 'web-5d8f', owner: controllerRef(deployment) }));
      const pod = await podOwnedBy('web-5d8f-x1', replicaSet);
      const owner = await ownerOf(pod);
      expect(owner?.workload).to.deep.equal({ kind: 'Deployment', namespace, name: 'web' });
      expect(owner?.createdAt).to.equal(Date.parse(pod.metadata.creationTimestamp!));
    });

    it('finds the StatefulSet and the DaemonSet that control their pods directly', async () => {
      const statefulSet = await fixture.create(aStatefulSetResource({ namespace, name: 'db' }));
      const daemonSet = await fixture.create(aDaemonSetResource({ namespace, name: 'agent' }));
      expect((await ownerOf(await podOwnedBy('db-0', statefulSet)))?.workload).to.deep.equal({ kind: 'StatefulSet', namespace, name: 'db' });
      expect((await ownerOf(await podOwnedBy('agent-x1', daemonSet)))?.workload).to.deep.equal({ kind: 'DaemonSet', namespace, name: 'agent' });
    });

    it('names no workload for a bare pod or a pod of a ReplicaSet no Deployment controls', async () => {
      const replicaSet = await fixture.create(aReplicaSetResource({ namespace, name: 'standalone' }));
      const bare = await ownerOf(await podOwnedBy('bare'));
      expect(bare).to.not.equal(undefined);
      expect(bare!.workload).to.equal(undefined);
      expect((await ownerOf(await podOwnedBy('standalone-x1', replicaSet)))?.workload).to.equal(undefined);
    });

    it('resolves undefined for a pod that is gone or that is another pod of the same name now', async () => {
      await podOwnedBy('web-0');
      expect(await fixture.owners.ownerOf({ namespace, name: 'web-0', uid: 'another-uid' })).to.equal(undefined);
      expect(await fixture.owners.ownerOf({ namespace, name: 'never-there', uid: 'x' })).to.equal(undefined);
      const deleted = await podOwnedBy('web-1');
      await fixture.deletePod(namespace, 'web-1');
      expect(await ownerOf(deleted)).to.equal(undefined);
    });
  });
}
