import type { StringMap } from '../../domain/volume-binding.js';
import { WORKLOAD_KINDS, type Workload, type WorkloadKey } from '../../domain/workload.js';
import type { TemplateWrite, WorkloadStore } from '../../ports/workload-store.js';
import type { WorkloadResource } from '../kube-objects/object-shapes.js';
import { toWorkload } from '../kube-objects/workload-mapping.js';
import { isKubeApiError } from './cluster-errors.js';
import type { InMemoryCluster } from './cluster-store.js';

/** Deployments, StatefulSets and DaemonSets of the in-memory cluster. */
export class MemoryWorkloadStore implements WorkloadStore {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(key: WorkloadKey): Promise<Workload | undefined> {
    return this.cluster.read(key.kind, key.namespace, key.name, (object) => toWorkload(object as WorkloadResource));
  }

  async list(): Promise<Workload[]> {
    return WORKLOAD_KINDS.flatMap((kind) => this.cluster.list(kind).map((object) => toWorkload(object as WorkloadResource)));
  }

  async setTemplateAnnotations(workload: Workload, annotations: StringMap): Promise<TemplateWrite> {
    const { kind, namespace, name } = workload.key;
    const stored = this.cluster.get(kind, namespace, name);
    if (stored === undefined || stored.metadata.uid !== workload.uid) return 'gone';
    try {
      this.cluster.patch(kind, namespace, name, {
        metadata: { resourceVersion: workload.resourceVersion },
        spec: { template: { metadata: { annotations: { ...annotations } } } },
      });
      return 'written';
    } catch (error) {
      if (isKubeApiError(error, 'Conflict')) return 'conflict';
      if (isKubeApiError(error, 'NotFound')) return 'gone';
      throw error;
    }
  }

  onChange(listener: (key: WorkloadKey) => void): () => void {
    const stops = WORKLOAD_KINDS.map((kind) =>
      this.cluster.watch(kind, ({ object }) => listener({ kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name })),
    );
    return () => stops.forEach((stop) => stop());
  }
}
