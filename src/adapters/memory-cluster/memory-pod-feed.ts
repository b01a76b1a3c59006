import { randomBytes } from 'node:crypto';
import type { TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { TokenSource } from '../../ports/token-source.js';
import { decodeBase64 } from '../kube-objects/base64.js';
import { toEventResource } from '../kube-objects/event-mapping.js';
import type { StringRecord } from '../kube-objects/object-shapes.js';
import type { CsiDriverShape, PodFeed, PodFeedEvent } from '../kube-objects/pod-feed.js';
import { KubeApiError } from './cluster-errors.js';
import type { InMemoryCluster } from './cluster-store.js';
import { MemoryTokenSource } from './memory-token-source.js';

export interface MemoryPodFeedOptions {
  readonly cluster: InMemoryCluster;
  readonly nodeName: string;
  readonly clock: Clock;
  /**
   * The CSIDriver objects by name: the in-memory cluster has no CSIDriver kind, so the profile that
   * runs a kubelet on it says what its CSIDriver would (a name not listed has no CSIDriver).
   */
  readonly csiDrivers: Readonly<Record<string, CsiDriverShape>>;
  /** Mints the pods' service-account tokens (default: the in-memory minter on `clock`). */
  readonly tokens?: TokenSource;
  readonly logger?: Logger;
}

/**
 * The pods of one node in the in-memory cluster, for a kubelet running on it: the pods whose
 * `spec.nodeName` is the node (the present ones at the start, then each change, in commit order),
 * Secrets from the cluster, the configured CSIDriver, tokens from the in-memory minter (plainly fake,
 * see MemoryTokenSource), Warning events stored as `kubelet`'s, and deletions done at once.
 */
export class MemoryPodFeed implements PodFeed {
  readonly nodeName: string;
  private readonly tokens: TokenSource;
  private unwatch: (() => void) | undefined;

  constructor(private readonly options: MemoryPodFeedOptions) {
    this.nodeName = options.nodeName;
    this.tokens = options.tokens ?? new MemoryTokenSource(options.clock);
  }

  start(listener: (event: PodFeedEvent) => void): void {
    const onNode = (pod: PodFeedEvent['pod']): boolean => pod.spec?.nodeName === this.nodeName;
    // Watch first, then list, in one turn: a change committed in between is in the list, and the watch
    // delivers only later ones.
    this.unwatch = this.options.cluster.watch('Pod', ({ type, object }) => {
      if (onNode(object)) listener({ type, pod: object });
    });
    for (const pod of this.options.cluster.list('Pod').filter(onNode)) listener({ type: 'ADDED', pod });
  }

  async whenSynced(): Promise<void> {}

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  async csiDriver(name: string): Promise<CsiDriverShape | undefined> {
    const spec = this.options.csiDrivers[name];
    return spec === undefined ? undefined : structuredClone(spec);
  }

  async secretData(namespace: string, name: string): Promise<StringRecord> {
    const secret = this.options.cluster.get('Secret', namespace, name);
    if (secret === undefined) throw new KubeApiError('NotFound', `secrets "${name}" not found`);
    const decoder = new TextDecoder();
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, decoder.decode(decodeBase64(value))]));
  }

  serviceAccountTokens(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    return this.tokens.tokensFor(pod, requests);
  }

  async recordWarning(pod: PodIdentity, reason: string, message: string): Promise<void> {
    const now = this.options.clock.now();
    try {
      this.options.cluster.create(
        toEventResource(
          { pod, type: 'Warning', reason, message },
          // Random, unlike the driver's recorder: the two must never pick the same name for one pod.
          { name: `${pod.name}.${randomBytes(8).toString('hex')}`, timeMs: now, nodeName: this.nodeName, component: 'kubelet' },
        ),
      );
    } catch (error) {
      this.options.logger?.warn('kubelet: could not record an event', { reason, error: error instanceof Error ? error.message : String(error) });
    }
  }

  async confirmDeletion(pod: PodIdentity): Promise<boolean> {
    const current = this.options.cluster.get('Pod', pod.namespace, pod.name);
    if (current?.metadata.uid !== pod.uid) return false;
    this.options.cluster.delete('Pod', pod.namespace, pod.name);
    return true;
  }
}
