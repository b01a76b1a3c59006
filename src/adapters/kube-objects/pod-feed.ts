import type { TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';
import type { PodResource, StringRecord } from './object-shapes.js';

/** The CSIDriver fields kubelet acts on when it mounts an inline volume (storage.k8s.io/v1 CSIDriverSpec). */
export interface CsiDriverShape {
  podInfoOnMount?: boolean;
  requiresRepublish?: boolean;
  /** The API server defaults an absent list to `[Persistent]`: inline volumes need `Ephemeral` listed. */
  volumeLifecycleModes?: string[];
  tokenRequests?: TokenRequest[];
  fsGroupPolicy?: string;
}

export type PodFeedEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface PodFeedEvent {
  readonly type: PodFeedEventType;
  readonly pod: PodResource;
}

/**
 * What a kubelet learns from its control plane and tells it, for the pods of one node: the pods bound
 * to the node (list, then every change), the CSIDriver object, the Secrets a volume names, the pods'
 * service-account tokens, Warning events on a pod, and the confirmation of a graceful deletion. The
 * API server and the in-memory cluster each provide one, so the same kubelet runs against either.
 */
export interface PodFeed {
  /** The node whose pods (`spec.nodeName`) the feed delivers. */
  readonly nodeName: string;
  /**
   * Starts delivering: every pod bound to the node arrives as ADDED, then each change in order. A pod
   * that went away while the feed could not see it (a relist after a lost watch) arrives as DELETED.
   * Call once.
   */
  start(listener: (event: PodFeedEvent) => void): void;
  /** Resolves once the pods present at the start were delivered (or the feed was stopped). */
  whenSynced(): Promise<void>;
  /** Stops delivering; nothing arrives after it resolves. */
  stop(): Promise<void>;
  /** The CSIDriver object of that name, or undefined when there is none. */
  csiDriver(name: string): Promise<CsiDriverShape | undefined>;
  /** The data of a Secret as text (kubelet passes each value as a string); rejects when it cannot be read. */
  secretData(namespace: string, name: string): Promise<StringRecord>;
  /**
   * Service-account tokens for the pod, one per request, as the JSON text kubelet passes in
   * `csi.storage.k8s.io/serviceAccount.tokens` (see the TokenSource port); undefined for no requests.
   */
  serviceAccountTokens(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined>;
  /** Records a Warning event on the pod from `kubelet`; never rejects. */
  recordWarning(pod: PodIdentity, reason: string, message: string): Promise<void>;
  /**
   * What kubelet does once a terminating pod's volumes are gone: deletes it for good (grace period 0,
   * only if it is still the pod with that uid). Resolves false when it was gone already.
   */
  confirmDeletion(pod: PodIdentity): Promise<boolean>;
}

/**
 * The spec deploy/csidriver.yaml gives the driver's CSIDriver (as far as kubelet acts on it): what a
 * kubelet on a cluster without CSIDriver objects (the in-memory one) should assume by default.
 */
export const DEPLOYED_CSI_DRIVER: Readonly<CsiDriverShape> = Object.freeze({
  podInfoOnMount: true,
  volumeLifecycleModes: ['Ephemeral'],
  fsGroupPolicy: 'File',
  requiresRepublish: true,
});
