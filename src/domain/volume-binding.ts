import { DomainError } from './errors.js';
import type { ObjectVersion } from './object-versions.js';
import type { RotationReport } from './pod-status.js';
import { parseTargetPath, type TargetPath } from './target-path.js';
import { VolumeContextKey } from './volume-context.js';

export type StringMap = Readonly<Record<string, string>>;

/** A NodePublishVolume call as the core sees it (already translated from the wire by the CSI adapter). */
export interface PublishCommand {
  readonly volumeId: string;
  readonly targetPath: string;
  readonly readonly: boolean;
  readonly volumeContext: StringMap;
  /** nodePublishSecretRef data, plus the service-account tokens on Kubernetes >= 1.35. */
  readonly secrets: StringMap;
  /** `volume_capability.mount.volume_mount_group`: the pod's fsGroup in decimal, when kubelet passes one. */
  readonly volumeMountGroup?: string;
}

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccountName: string;
}

/** A validated publish request: who mounts which class where, with what credentials. */
export interface VolumeRequest {
  readonly volumeId: string;
  readonly target: TargetPath;
  readonly pod: PodIdentity;
  readonly className: string;
  readonly volumeContext: StringMap;
  /** nodePublishSecretRef data only (tokens removed). Never logged. */
  readonly nodePublishSecrets: StringMap;
  /** JSON text of the service-account tokens, when kubelet sent any. Never logged. */
  readonly serviceAccountTokens: string | undefined;
  /** The group the volume's files belong to (the pod's fsGroup); undefined = upstream's root:root. */
  readonly mountGroup: number | undefined;
}

/** One mounted inline volume and what is mounted in it now. */
export interface VolumeBinding {
  readonly request: VolumeRequest;
  readonly providerName: string;
  readonly objectVersions: readonly ObjectVersion[];
  /** The class generation the mount and synced Secrets were last built from. */
  readonly classGeneration: number;
  /** False after a failed Secret sync, so the next check syncs again even if nothing else changed. */
  readonly secretsInSync: boolean;
  readonly mountedAt: number;
  /** When the provider last confirmed the mounted contents current (the mount, or a successful check). */
  readonly contentConfirmedAt: number;
  /** What the pod status object says about rotation, as the driver last wrote it. */
  readonly rotationReport: RotationReport;
}

/** Validates the kubelet request and extracts the pod identity, class and credentials. */
export function parseVolumeRequest(command: PublishCommand, kubeletRoot: string): VolumeRequest {
  if (!command.volumeId) throw new DomainError('InvalidVolumeContext', 'volume_id is empty');
  const target = parseTargetPath(command.targetPath, kubeletRoot);
  if (!command.readonly) {
    throw new DomainError('InvalidReadonly', 'readonly must be true: mount the inline volume with csi.readOnly: true');
  }
  const context = command.volumeContext;
  const className = required(context, VolumeContextKey.secretProviderClass);
  const pod: PodIdentity = {
    name: required(context, VolumeContextKey.podName),
    namespace: required(context, VolumeContextKey.podNamespace),
    uid: required(context, VolumeContextKey.podUid),
    serviceAccountName: context[VolumeContextKey.serviceAccountName] ?? '',
  };
  if (pod.uid !== target.podUid) {
    throw new DomainError(
      'InvalidVolumeContext',
      `volume_context ${VolumeContextKey.podUid} "${pod.uid}" does not match the pod uid "${target.podUid}" of the target path`,
    );
  }
  const mountGroup = parseMountGroup(command.volumeMountGroup);
  const { [VolumeContextKey.serviceAccountTokens]: tokensInSecrets, ...nodePublishSecrets } = command.secrets;
  const serviceAccountTokens = nonEmpty(tokensInSecrets) ?? nonEmpty(context[VolumeContextKey.serviceAccountTokens]);
  return {
    volumeId: command.volumeId,
    target,
    pod,
    className,
    volumeContext: { ...context },
    nodePublishSecrets,
    serviceAccountTokens,
    mountGroup,
  };
}

/** The volume id of a request rebuilt after a restart: kubelet's id cannot be recomputed, its next call supplies it. */
export const UNKNOWN_VOLUME_ID = '';

/**
 * Whether an incoming request for a registered target would mount the same thing for the same pod. A
 * registered request with an unknown volume id (rebuilt after a restart) accepts kubelet's id, which
 * the caller then adopts by registering the incoming request.
 */
export function sameVolume(registered: VolumeRequest, incoming: VolumeRequest): boolean {
  return (
    (registered.volumeId === UNKNOWN_VOLUME_ID || registered.volumeId === incoming.volumeId) &&
    registered.target.path === incoming.target.path &&
    registered.className === incoming.className &&
    registered.pod.uid === incoming.pod.uid &&
    registered.pod.namespace === incoming.pod.namespace &&
    registered.pod.name === incoming.pod.name
  );
}

/** The largest group id (2^32 - 2: 2^32 - 1 is the "no group" value of chown). */
const MAX_GROUP_ID = 4294967294;

/**
 * Parses kubelet's `volume_capability.mount.volume_mount_group` (the pod's fsGroup in decimal); an empty
 * value means none. Anything else than a group id is refused with InvalidVolumeContext.
 */
export function parseMountGroup(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const group = /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!(group <= MAX_GROUP_ID)) {
    throw new DomainError(
      'InvalidVolumeContext',
      `volume_capability.mount.volume_mount_group "${value.slice(0, 40)}" is not a group id (a decimal number from 0 to ${MAX_GROUP_ID})`,
    );
  }
  return group;
}

function required(context: StringMap, key: string): string {
  const value = context[key];
  if (value === undefined) throw new DomainError('MissingVolumeContext', `volume_context is missing "${key}"`);
  if (value.trim() === '') throw new DomainError('MissingVolumeContext', `volume_context "${key}" is empty`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
