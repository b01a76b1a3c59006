import { status } from '@grpc/grpc-js';
import type { NodeHandlers } from '../../gen/csi/v1/Node.js';
import type { NodePublishVolumeRequest__Output } from '../../gen/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from '../../gen/csi/v1/NodeUnpublishVolumeRequest.js';
import type { PublishCommand } from '../../domain/volume-binding.js';
import type { Logger } from '../../ports/logger.js';
import type { NodeVolumes, UnpublishCommand } from '../../ports/node-volumes.js';
import { CsiStatusError } from './error-status.js';
import { unaryCall } from './unary-call.js';

export interface NodeIdentity {
  /** `--nodeid`: the Kubernetes node name. */
  readonly nodeId: string;
}

/**
 * CSI Node for inline ephemeral volumes: kubelet only publishes and unpublishes, so no node
 * capability is advertised and the other RPCs answer UNIMPLEMENTED, as the spec requires.
 */
export function nodeHandlers(volumes: NodeVolumes, identity: NodeIdentity, logger: Logger): NodeHandlers {
  return {
    NodePublishVolume: unaryCall('NodePublishVolume', logger, 'info', async (request: NodePublishVolumeRequest__Output) => {
      await volumes.publish(toPublishCommand(request));
      return {};
    }),
    NodeUnpublishVolume: unaryCall('NodeUnpublishVolume', logger, 'info', async (request: NodeUnpublishVolumeRequest__Output) => {
      await volumes.unpublish(toUnpublishCommand(request));
      return {};
    }),
    NodeGetCapabilities: unaryCall('NodeGetCapabilities', logger, 'debug', async () => ({ capabilities: [] })),
    NodeGetInfo: unaryCall('NodeGetInfo', logger, 'debug', async () => ({
      nodeId: identity.nodeId,
      maxVolumesPerNode: 0,
    })),
    NodeStageVolume: unimplemented('NodeStageVolume', logger),
    NodeUnstageVolume: unimplemented('NodeUnstageVolume', logger),
    NodeGetVolumeStats: unimplemented('NodeGetVolumeStats', logger),
    NodeExpandVolume: unimplemented('NodeExpandVolume', logger),
  };
}

/** Checks what the CSI spec requires of the request, in the order csi-sanity probes it. */
export function toPublishCommand(request: NodePublishVolumeRequest__Output): PublishCommand {
  requireField(request.volumeId, 'volume_id');
  requireField(request.targetPath, 'target_path');
  const capability = request.volumeCapability;
  if (!capability) throw invalidArgument('volume_capability is missing');
  if (capability.block) throw invalidArgument('block volumes are not supported: use a mount volume');
  return {
    volumeId: request.volumeId,
    targetPath: request.targetPath,
    readonly: request.readonly,
    volumeContext: { ...request.volumeContext },
    secrets: { ...request.secrets },
  };
}

export function toUnpublishCommand(request: NodeUnpublishVolumeRequest__Output): UnpublishCommand {
  requireField(request.volumeId, 'volume_id');
  requireField(request.targetPath, 'target_path');
  return { volumeId: request.volumeId, targetPath: request.targetPath };
}

function requireField(value: string, field: string): void {
  if (value === '') throw invalidArgument(`${field} is missing`);
}

function invalidArgument(message: string): CsiStatusError {
  return new CsiStatusError(status.INVALID_ARGUMENT, message);
}

function unimplemented(method: string, logger: Logger) {
  return unaryCall(method, logger, 'debug', async () => {
    throw new CsiStatusError(status.UNIMPLEMENTED, `${method} is not implemented: the plugin has no node capability for it`);
  });
}
