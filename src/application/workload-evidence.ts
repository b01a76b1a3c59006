import { diffObjectVersions, isEmptyDiff, type ObjectVersionsDiff } from '../domain/object-versions.js';
import type { StoredPodStatus } from '../domain/pod-status.js';
import { rotationEvidence, type RestartMode, type RotationEvidence, type SyncedSecret, type WorkloadMount } from '../domain/restart-on-rotation.js';
import { sameWorkload, type Workload } from '../domain/workload.js';
import type { PodOwners } from '../ports/pod-owners.js';
import type { PodStatusChange, PodStatusFeed } from '../ports/pod-status-feed.js';
import type { SyncedSecrets } from '../ports/synced-secrets.js';

export interface GatheredEvidence {
  readonly evidence: RotationEvidence;
  /** The last version change seen per class among the workload's rotated mounts (for the event; unknown after a restart). */
  readonly changes: ReadonlyMap<string, ObjectVersionsDiff>;
}

/**
 * Reads what is behind a workload's pods: the pod status objects of its pods (through their owners) and
 * the synced Secrets its template reads. It also remembers, from the feed of pod status changes, which
 * versions each mount last moved from, so an event can name what changed.
 */
export class WorkloadEvidence {
  private readonly lastChanges = new Map<string, ObjectVersionsDiff>();

  constructor(
    private readonly statuses: PodStatusFeed,
    private readonly owners: PodOwners,
    private readonly secrets: SyncedSecrets,
  ) {}

  /** Keeps the version change a pod status update carried (called for every change of the feed). */
  noteChange({ previous, current }: PodStatusChange): void {
    const record = current ?? previous;
    if (record === undefined) return;
    const key = statusKey(record);
    if (current === undefined) {
      this.lastChanges.delete(key);
      return;
    }
    if (previous === undefined || previous.podUid !== current.podUid) return;
    const diff = diffObjectVersions(previous.objects, current.objects);
    if (!isEmptyDiff(diff)) this.lastChanges.set(key, diff);
  }

  async gather(workload: Workload, mode: RestartMode): Promise<GatheredEvidence> {
    const { namespace } = workload.key;
    const mounts: WorkloadMount[] = [];
    const changes = new Map<string, ObjectVersionsDiff>();
    for (const status of await this.statuses.list(namespace)) {
      const owner = await this.owners.ownerOf({ namespace, name: status.podName, uid: status.podUid });
      if (owner?.workload === undefined || !sameWorkload(owner.workload, workload.key)) continue;
      const rotatedAt = status.rotation?.lastRotationTime;
      mounts.push({ className: status.secretProviderClassName, objects: status.objects, rotatedAt, podCreatedAt: owner.createdAt });
      const change = this.lastChanges.get(statusKey(status));
      if (rotatedAt !== undefined && change !== undefined) changes.set(status.secretProviderClassName, change);
    }
    const read: SyncedSecret[] = [];
    if (mode.secret) {
      for (const name of workload.secretNames) {
        const secret = await this.secrets.get(namespace, name);
        if (secret !== undefined) read.push(secret);
      }
    }
    return { evidence: rotationEvidence(mode, mounts, read), changes };
  }
}

function statusKey(status: StoredPodStatus): string {
  return `${status.namespace}/${status.name}`;
}
