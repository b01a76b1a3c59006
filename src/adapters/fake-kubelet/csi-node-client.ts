import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { loadCsiProtos } from '../../gen/load.js';
import type { NodeClient } from '../../gen/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../gen/csi/v1/NodePublishVolumeRequest.js';
import type { PublishCommand } from '../../domain/volume-binding.js';
import type { NodeVolumes, UnpublishCommand } from '../../ports/node-volumes.js';

/** How often kubelet asks NodeGetCapabilities before a NodePublishVolume. */
const CAPABILITY_CALLS_BEFORE_PUBLISH = 2;

/** kubelet's per-call deadline for CSI node operations. */
const KUBELET_CALL_TIMEOUT_MS = 120_000;

/** Per-call options; the default is kubelet's own. */
export interface CsiCallOptions {
  /** The call's deadline, in milliseconds from now (default 2 minutes, as kubelet). */
  readonly timeoutMs?: number;
}

/** A failed CSI call as kubelet sees it: the gRPC status name and the driver's message. */
export class CsiCallError extends Error {
  override readonly name = 'CsiCallError';
  constructor(
    readonly code: string,
    readonly details: string,
  ) {
    super(`${code}: ${details}`);
  }
}

/**
 * Calls a CSI node plugin over its unix socket the way kubelet does for an inline volume (mount
 * capability, SINGLE_NODE_WRITER, 2-minute deadline), so the fake kubelet drives the real server.
 */
export class CsiNodeClient implements NodeVolumes {
  private readonly client: NodeClient;

  constructor(socketPath: string) {
    this.client = new (loadCsiProtos().csi.v1.Node)(`unix://${socketPath}`, credentials.createInsecure());
  }

  publish(command: PublishCommand, options: CsiCallOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.NodePublishVolume(
        kubeletPublishRequest(command),
        { deadline: Date.now() + (options.timeoutMs ?? KUBELET_CALL_TIMEOUT_MS) },
        (error) => (error ? reject(toCallError(error)) : resolve()),
      );
    });
  }

  /** NodeGetCapabilities: the RPC capabilities the node service advertises (e.g. VOLUME_MOUNT_GROUP). */
  nodeCapabilities(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.client.NodeGetCapabilities({}, { deadline: Date.now() + KUBELET_CALL_TIMEOUT_MS }, (error, response) =>
        error ? reject(toCallError(error)) : resolve((response?.capabilities ?? []).flatMap((capability) => (capability.rpc ? [capability.rpc.type] : []))),
      );
    });
  }

  unpublish(command: UnpublishCommand, options: CsiCallOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.NodeUnpublishVolume(
        { volumeId: command.volumeId, targetPath: command.targetPath },
        { deadline: Date.now() + (options.timeoutMs ?? KUBELET_CALL_TIMEOUT_MS) },
        (error) => (error ? reject(toCallError(error)) : resolve()),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The NodePublishVolume request kubelet sends for an inline volume: mount capability, SINGLE_NODE_WRITER. */
export function kubeletPublishRequest(command: PublishCommand): NodePublishVolumeRequest {
  return {
    volumeId: command.volumeId,
    targetPath: command.targetPath,
    volumeCapability: {
      mount: { fsType: '', mountFlags: [], volumeMountGroup: command.volumeMountGroup ?? '' },
      accessMode: { mode: 'SINGLE_NODE_WRITER' },
    },
    readonly: command.readonly,
    volumeContext: { ...command.volumeContext },
    secrets: { ...command.secrets },
  };
}

function toCallError(error: ServiceError): CsiCallError {
  return new CsiCallError(status[error.code] ?? String(error.code), error.details);
}

/**
 * Calls the node plugin as kubelet v1.34's CSI volume plugin does (recorded from a real kubelet): a
 * new connection for every call (closed after it), and NodeGetCapabilities twice before each
 * NodePublishVolume (kubelet asks, among others, whether the driver applies the fsGroup itself,
 * VOLUME_MOUNT_GROUP: only then is a pod's fsGroup passed as `volume_mount_group`); nothing before
 * NodeUnpublishVolume.
 */
export class KubeletCsiClient implements NodeVolumes {
  constructor(private readonly socketPath: string) {}

  async publish(command: PublishCommand, options: CsiCallOptions = {}): Promise<void> {
    const capabilities = await this.onNewConnection((client) => client.nodeCapabilities());
    for (let ask = 1; ask < CAPABILITY_CALLS_BEFORE_PUBLISH; ask++) await this.onNewConnection((client) => client.nodeCapabilities());
    const { volumeMountGroup, ...withoutGroup } = command;
    const sent = volumeMountGroup !== undefined && capabilities.includes('VOLUME_MOUNT_GROUP') ? command : withoutGroup;
    await this.onNewConnection((client) => client.publish(sent, options));
  }

  unpublish(command: UnpublishCommand, options: CsiCallOptions = {}): Promise<void> {
    return this.onNewConnection((client) => client.unpublish(command, options));
  }

  private async onNewConnection<T>(call: (client: CsiNodeClient) => Promise<T>): Promise<T> {
    const client = new CsiNodeClient(this.socketPath);
    try {
      return await call(client);
    } finally {
      client.close();
    }
  }
}
