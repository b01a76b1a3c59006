import type { EventReasonName } from '../domain/events.js';
import { diffObjectVersions, isEmptyDiff, type ObjectVersion, type ObjectVersionsDiff } from '../domain/object-versions.js';
import { podOwnerReference, syncedSecretOwners } from '../domain/pod-reference.js';
import { podStatusName, type RotationReport, type StoredPodStatus } from '../domain/pod-status.js';
import type { ProviderPayload } from '../domain/provider-request.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import { desiredSecrets, type DesiredSecret } from '../domain/secret-sync-plan.js';
import type { VolumeBinding, VolumeRequest } from '../domain/volume-binding.js';
import { mountSettings, volumeOwnership } from '../domain/volume-ownership.js';
import type { MountWriter } from '../ports/mount-writer.js';
import type { PodSource } from '../ports/pod-source.js';
import type { PodStatusStore } from '../ports/pod-status-store.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';
import type { SecretSyncResult, SyncSecrets } from './sync-secrets.js';

export interface ApplyRequest {
  readonly request: VolumeRequest;
  readonly spc: SecretProviderClass;
  readonly payload: ProviderPayload;
  /** Versions mounted before this payload ([] on first mount). */
  readonly previousVersions: ProviderPayload['objectVersions'];
  /** Sync Secrets even when the mount did not change (class changed, or the last sync failed). */
  readonly syncSecretsAnyway: boolean;
  readonly secretFailureReason: EventReasonName;
  /**
   * A rotation check's say on the pod status: the rotation report to write given whether the mount
   * changed, or undefined to leave the status alone. Absent on a first mount, which always writes it.
   */
  readonly rotationReport?: (mountChanged: boolean) => RotationReport | undefined;
}

export interface ApplyResult {
  readonly filesChanged: boolean;
  readonly versions: ObjectVersionsDiff;
  /** Undefined when the class has no secretObjects or nothing asked for a sync. */
  readonly secrets: SecretSyncResult | undefined;
}

/**
 * Makes the mount, the pod status object and the synced Secrets reflect a provider payload,
 * touching each only when it differs. Secret objects are validated against the payload before any
 * file is written, so a class that cannot be satisfied changes nothing. The volume grows first when
 * the payload needs more room than it has.
 */
export class ApplyPayload {
  constructor(
    private readonly mounter: VolumeMounter,
    private readonly writer: MountWriter,
    private readonly statuses: PodStatusStore,
    private readonly pods: PodSource,
    private readonly syncSecrets: SyncSecrets,
    private readonly nodeName: string,
  ) {}

  async execute(apply: ApplyRequest): Promise<ApplyResult> {
    const { request, spc, payload } = apply;
    const target = request.target.path;
    const providerWritesFiles = payload.files.length === 0;
    const validated = providerWritesFiles ? undefined : desiredSecrets(spc, payload.files);
    const filesChanged = providerWritesFiles ? false : await this.writeFiles(request, spc, payload);
    const versions = diffObjectVersions(apply.previousVersions, payload.objectVersions);
    const mountChanged = filesChanged || !isEmptyDiff(versions);
    const report = apply.rotationReport === undefined ? {} : apply.rotationReport(mountChanged);
    const status = report === undefined ? undefined : await this.saveStatus(request, payload.objectVersions, report);
    const wantSync = spc.secretObjects.length > 0 && (mountChanged || apply.syncSecretsAnyway);
    const secrets = wantSync
      ? await this.sync(apply, validated ?? desiredSecrets(spc, await this.writer.read(target)), status)
      : undefined;
    return { filesChanged, versions, secrets };
  }

  /**
   * A payload the writer holds with this ownership is already in place, and so is the fit: the volume's
   * settings follow from the same files and ownership. Anything else fits the volume first (the check
   * that a tmpfs is mounted there guards every write) and writes, which compares in full.
   */
  private async writeFiles(request: VolumeRequest, spc: SecretProviderClass, payload: ProviderPayload): Promise<boolean> {
    const target = request.target.path;
    const ownership = volumeOwnership(request.mountGroup, spc);
    if (await this.writer.holds(target, payload.files, ownership)) return false;
    await this.mounter.fit(target, mountSettings(ownership, payload.files));
    return (await this.writer.write(target, payload.files, ownership)).changed;
  }

  /** Writes a new rotation report into the pod status, keeping the mounted versions. */
  async saveReport(binding: VolumeBinding, report: RotationReport): Promise<void> {
    await this.saveStatus(binding.request, binding.objectVersions, report);
  }

  private saveStatus(request: VolumeRequest, objects: readonly ObjectVersion[], rotation: RotationReport): Promise<StoredPodStatus> {
    const { pod } = request;
    return this.statuses.save(
      {
        namespace: pod.namespace,
        name: podStatusName(pod.name, pod.namespace, request.className),
        podName: pod.name,
        podUid: pod.uid,
        secretProviderClassName: request.className,
        mounted: true,
        targetPath: request.target.path,
        nodeName: this.nodeName,
        objects,
        rotation,
      },
      podOwnerReference(pod),
    );
  }

  private async sync(
    { request, spc, payload, secretFailureReason }: ApplyRequest,
    secrets: readonly DesiredSecret[],
    saved: StoredPodStatus | undefined,
  ): Promise<SecretSyncResult> {
    const { pod } = request;
    const status = saved ?? (await this.statuses.get(pod.namespace, podStatusName(pod.name, pod.namespace, request.className)));
    const podInfo = await this.pods.get(pod.namespace, pod.name);
    const podOwners = podInfo?.ownerReferences ?? [];
    const owners = status ? syncedSecretOwners(podOwners, status) : podOwners;
    return this.syncSecrets.execute({ providerName: spc.provider, pod, secrets, owners, objectVersions: payload.objectVersions, failureReason: secretFailureReason });
  }
}
