import type { PublishCommand } from '../domain/volume-binding.js';

export interface UnpublishCommand {
  readonly volumeId: string;
  readonly targetPath: string;
}

/**
 * The driving port kubelet's calls arrive at (through the CSI adapter or a fake kubelet).
 * Contract: `publish` is idempotent for the same target and arguments (a republish refreshes
 * credentials and rotates only when due, and never fails a working mount); `unpublish` is idempotent
 * (a missing target is fine). Both reject with a DomainError; `OperationPending` when another call for
 * the same target is running.
 */
export interface NodeVolumes {
  publish(command: PublishCommand): Promise<void>;
  unpublish(command: UnpublishCommand): Promise<void>;
}
export const NodeVolumes = Symbol.for('NodeVolumes');
