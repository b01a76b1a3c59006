import { DomainError, toDomainError } from '../domain/errors.js';
import { parseTargetPath } from '../domain/target-path.js';
import { parseVolumeRequest, sameVolume, type PublishCommand } from '../domain/volume-binding.js';
import type { Metrics } from '../ports/metrics.js';
import type { NodeVolumes, UnpublishCommand } from '../ports/node-volumes.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';
import type { BindingRegistry } from './binding-registry.js';
import type { PublishVolume } from './publish-volume.js';
import type { RotationReconciler } from './rotation-reconciler.js';
import type { TargetLocks } from './target-locks.js';
import type { UnpublishVolume } from './unpublish-volume.js';

/**
 * kubelet's entry point: serialises calls per target, tells a first publish from a republish, and
 * keeps the binding registry (the rotation loop's work list) in step with what is mounted.
 */
export class NodeVolumeService implements NodeVolumes {
  constructor(
    private readonly kubeletRoot: string,
    private readonly locks: TargetLocks,
    private readonly registry: BindingRegistry,
    private readonly publishVolume: PublishVolume,
    private readonly unpublishVolume: UnpublishVolume,
    private readonly mounter: VolumeMounter,
    private readonly rotation: RotationReconciler,
    private readonly metrics: Metrics,
  ) {}

  /** Every failure is counted in node_publish_error_total, as kubelet sees it. */
  async publish(command: PublishCommand): Promise<void> {
    try {
      await this.publishOrRepublish(command);
    } catch (error) {
      const failure = toDomainError(error);
      // The provider is unknown until the class is resolved; upstream reports "" then too.
      this.metrics.nodePublishError(failure.provider ?? '', failure.errorType);
      throw failure;
    }
  }

  async unpublish(command: UnpublishCommand): Promise<void> {
    try {
      if (!command.volumeId) throw new DomainError('InvalidVolumeContext', 'volume_id is empty');
      const target = parseTargetPath(command.targetPath, this.kubeletRoot);
      // An unpublish wins over a rotation check of the target: the check is cancelled, and no check starts
      // before the binding is gone, or back when the volume is still mounted after a failure.
      await this.locks.runCancellingRotation(target.path, async () => {
        const removed = this.registry.delete(target.path);
        try {
          await this.unpublishVolume.execute(target, removed?.binding.request);
        } catch (error) {
          if (removed !== undefined && (await this.stillMounted(target.path))) this.registry.put(removed);
          throw error;
        }
      });
      this.metrics.nodeUnpublish();
    } catch (error) {
      this.metrics.nodeUnpublishError();
      throw toDomainError(error);
    }
  }

  /**
   * A volume left mounted keeps being rotated, and kubelet's retry finds its binding. An unmounted one
   * (or one that cannot be inspected) is not: the loop must never write into a bare directory.
   */
  private async stillMounted(targetPath: string): Promise<boolean> {
    return this.mounter.isMounted(targetPath).catch(() => false);
  }

  private async publishOrRepublish(command: PublishCommand): Promise<void> {
    const request = parseVolumeRequest(command, this.kubeletRoot);
    const mounted = this.registry.get(request.target.path);
    // A republish while the loop checks this very mount has nothing to add: the mount works.
    if (mounted && sameVolume(mounted.binding.request, request) && this.locks.heldByRotation(request.target.path)) {
      this.metrics.nodePublish(mounted.binding.providerName);
      return;
    }
    await this.locks.run(request.target.path, async () => {
      const existing = this.registry.get(request.target.path);
      if (existing === undefined) {
        const mounted = await this.publishVolume.execute(request);
        await this.rotation.register(mounted.binding, mounted.spc);
        this.metrics.nodePublish(mounted.binding.providerName);
        return;
      }
      if (!sameVolume(existing.binding.request, request)) {
        throw new DomainError('AlreadyPublished', `target "${request.target.path}" is already published with different arguments`);
      }
      // A republish carries fresh credentials; it rotates only when due and never fails a working mount.
      const refreshed = { ...existing.binding, request };
      this.registry.put({ ...existing, binding: refreshed });
      const skip = this.rotation.republishSkipReason(existing);
      if (skip === undefined) await this.rotation.checkNow(refreshed);
      else this.metrics.rotationSkipped(skip);
      this.metrics.nodePublish(existing.binding.providerName);
    });
  }
}
