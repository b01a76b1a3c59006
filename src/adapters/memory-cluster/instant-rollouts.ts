import { WORKLOAD_KINDS, type WorkloadKind } from '../../domain/workload.js';
import type { KindMap, WorkloadResource } from '../kube-objects/object-shapes.js';
import type { InMemoryCluster } from './cluster-store.js';
import type { JsonObject } from './json.js';

/**
 * Stands in for kube-controller-manager's workload controllers in the in-memory cluster: whenever a
 * Deployment, StatefulSet or DaemonSet has a spec the status has not observed, the status at once says
 * the rollout is complete (every replica updated and available). Pods are not replaced: the in-memory
 * cluster runs no pods. Returns a function that stops it.
 */
export function completeRolloutsInstantly(cluster: InMemoryCluster, options: { readonly daemonSetNodes?: number } = {}): () => void {
  const complete = (kind: WorkloadKind, object: WorkloadResource): void => {
    const generation = object.metadata.generation ?? 1;
    if ((object.status?.observedGeneration ?? 0) >= generation) return;
    cluster.patch(kind, object.metadata.namespace!, object.metadata.name, { status: completedStatus(object, generation, options.daemonSetNodes ?? 1) });
  };
  for (const kind of WORKLOAD_KINDS) for (const object of cluster.list(kind)) complete(kind, object);
  const stops = WORKLOAD_KINDS.map((kind) =>
    cluster.watch(kind, ({ type, object }) => {
      if (type !== 'DELETED') complete(kind, object as KindMap[typeof kind]);
    }),
  );
  return () => stops.forEach((stop) => stop());
}

function completedStatus(object: WorkloadResource, generation: number, daemonSetNodes: number): JsonObject {
  switch (object.kind) {
    case 'Deployment': {
      const replicas = object.spec?.replicas ?? 1;
      return { observedGeneration: generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
    }
    case 'StatefulSet': {
      const replicas = object.spec?.replicas ?? 1;
      const revision = `${object.metadata.name}-${generation}`;
      return { observedGeneration: generation, replicas, readyReplicas: replicas, updatedReplicas: replicas, currentRevision: revision, updateRevision: revision };
    }
    case 'DaemonSet':
      return { observedGeneration: generation, desiredNumberScheduled: daemonSetNodes, updatedNumberScheduled: daemonSetNodes, numberAvailable: daemonSetNodes };
  }
}
