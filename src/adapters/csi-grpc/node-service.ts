import { DomainError, toDomainError, type DomainErrorCode } from '../../domain/errors.js';
import type { PublishCommand } from '../../domain/volume-binding.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import type { NodeVolumes, UnpublishCommand } from '../../ports/node-volumes.js';
import { GrpcStatus } from '../grpc-wire/grpc-status.js';
import type { CSI_METHODS, NodePublishVolumeRequest, NodeUnpublishVolumeRequest } from './csi-messages.js';
import { CsiStatusError } from './error-status.js';
import { unaryCall, type HandlersOf } from './unary-call.js';

export interface NodeIdentity {
  /** `--nodeid`: the Kubernetes node name. */
  readonly nodeId: string;
}

/**
 * CSI Node for inline ephemeral volumes: kubelet only publishes and unpublishes, so the other RPCs
 * answer UNIMPLEMENTED, as the spec requires. The one node capability advertised is VOLUME_MOUNT_GROUP:
 * kubelet then passes a pod's fsGroup as `volume_mount_group` and the driver gives the volume to that
 * group (kubelet itself never changes the ownership of a read-only volume).
 */
export function nodeHandlers(volumes: NodeVolumes, identity: NodeIdentity, logger: Logger, metrics?: Metrics): HandlersOf<typeof CSI_METHODS.Node> {
  return {
    NodePublishVolume: unaryCall('NodePublishVolume', logger, 'info', async (request: NodePublishVolumeRequest) => {
      // The core counts every failure it sees; a request refused here never reaches it, so count it here.
      const command = counted(() => toPublishCommand(request), (error) => metrics?.nodePublishError('', toDomainError(error).errorType));
      await volumes.publish(command);
      return {};
    }),
    NodeUnpublishVolume: unaryCall('NodeUnpublishVolume', logger, 'info', async (request: NodeUnpublishVolumeRequest) => {
      const command = counted(() => toUnpublishCommand(request), () => metrics?.nodeUnpublishError());
      await volumes.unpublish(command);
      return {};
    }),
    NodeGetCapabilities: unaryCall('NodeGetCapabilities', logger, 'debug', async () => ({
      capabilities: [{ rpc: { type: 'VOLUME_MOUNT_GROUP' } }],
    })),
    NodeGetInfo: unaryCall('NodeGetInfo', logger, 'debug', async () => ({
      nodeId: identity.nodeId,
      maxVolumesPerNode: 0,
      accessibleTopology: null,
    })),
    NodeStageVolume: unimplemented('NodeStageVolume', logger),
    NodeUnstageVolume: unimplemented('NodeUnstageVolume', logger),
    NodeGetVolumeStats: unimplemented('NodeGetVolumeStats', logger),
    NodeExpandVolume: unimplemented('NodeExpandVolume', logger),
  };
}

/** Checks what the CSI spec requires of the request, in the order csi-sanity probes it. */
export function toPublishCommand(request: NodePublishVolumeRequest): PublishCommand {
  // The codes the core uses for the same problems (INVALID_ARGUMENT, and the metric error_type).
  requireField(request.volumeId, 'volume_id', 'InvalidVolumeContext');
  requireField(request.targetPath, 'target_path', 'InvalidTargetPath');
  const capability = request.volumeCapability;
  if (!capability) throw new DomainError('InvalidVolumeContext', 'volume_capability is missing');
  if (capability.block) throw new DomainError('InvalidVolumeContext', 'block volumes are not supported: use a mount volume');
  const volumeMountGroup = capability.mount?.volumeMountGroup;
  return {
    volumeId: request.volumeId,
    targetPath: request.targetPath,
    readonly: request.readonly,
    volumeContext: { ...request.volumeContext },
    secrets: { ...request.secrets },
    ...(volumeMountGroup ? { volumeMountGroup } : {}),
  };
}

export function toUnpublishCommand(request: NodeUnpublishVolumeRequest): UnpublishCommand {
  requireField(request.volumeId, 'volume_id', 'InvalidVolumeContext');
  requireField(request.targetPath, 'target_path', 'InvalidTargetPath');
  return { volumeId: request.volumeId, targetPath: request.targetPath };
}

function requireField(value: string, field: string, code: DomainErrorCode): void {
  if (value === '') throw new DomainError(code, `${field} is missing`);
}

/** `parse()`'s value; a rejection is reported to `onRejected` before it propagates. */
function counted<T>(parse: () => T, onRejected: (error: unknown) => void): T {
  try {
    return parse();
  } catch (error) {
    onRejected(error);
    throw error;
  }
}

function unimplemented(method: string, logger: Logger) {
  return unaryCall(method, logger, 'debug', async (): Promise<never> => {
    throw new CsiStatusError(GrpcStatus.UNIMPLEMENTED, `${method} is not implemented: the plugin has no node capability for it`);
  });
}
