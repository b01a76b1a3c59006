import type { StringMap } from '../domain/volume-binding.js';
import type { Workload, WorkloadKey } from '../domain/workload.js';

/** How a conditional template write ended: written, refused because the workload changed since it was read, or the workload is gone. */
export type TemplateWrite = 'written' | 'conflict' | 'gone';

/**
 * Deployments, StatefulSets and DaemonSets of the cluster with their rollout status, watched, and
 * restarted by annotating their pod template (as `kubectl rollout restart` does).
 * Contract: `get` resolves undefined for a missing workload; `list` returns every workload of the three
 * kinds; listeners hear of every add, change and deletion after `get` reflects it; returns an unsubscribe
 * function. `setTemplateAnnotations` merges `annotations` into spec.template.metadata.annotations (others
 * stay) only while the stored workload is still the version that was read (uid and resourceVersion),
 * else it writes nothing and says why. Rejects with a DomainError when the API refuses the write.
 */
export interface WorkloadStore {
  get(key: WorkloadKey): Promise<Workload | undefined>;
  list(): Promise<Workload[]>;
  setTemplateAnnotations(workload: Workload, annotations: StringMap): Promise<TemplateWrite>;
  onChange(listener: (key: WorkloadKey) => void): () => void;
}
export const WorkloadStore = Symbol.for('WorkloadStore');
