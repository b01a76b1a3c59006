import { randomBytes } from 'node:crypto';
import type { TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';
import type { Logger } from '../../ports/logger.js';
import { toEventResource } from '../kube-objects/event-mapping.js';
import type { PodResource, StringRecord } from '../kube-objects/object-shapes.js';
import type { CsiDriverShape, PodFeed, PodFeedEvent } from '../kube-objects/pod-feed.js';
import { apiFailure, isNotFound } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';
import { nodePodsCacheOptions } from './kubernetes-pod-source.js';
import { KubernetesTokenSource } from './kubernetes-token-source.js';
import { WatchedCache } from './watched-cache.js';

export interface ApiServerPodFeedOptions {
  /** The kubelet's identity: reads pods, Secrets and the CSIDriver, mints tokens, records events, deletes pods. */
  readonly client: KubernetesClient;
  readonly nodeName: string;
  readonly logger?: Logger;
  /** First retry delay of a failed list or watch; doubles per failure up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

/**
 * The pods of one node from a real API server, as kubelet's own pod source gets them: list + watch on
 * `spec.nodeName` (resuming from the last resourceVersion, relisting on 410 Gone, each pod that went
 * away meanwhile delivered as DELETED), with the reads and writes kubelet makes about them: the
 * CSIDriver, a volume's nodePublishSecretRef Secret, TokenRequests bound to the pod, Warning events
 * from `kubelet`, and the grace-period-0 delete that ends a graceful deletion.
 */
export class ApiServerPodFeed implements PodFeed {
  readonly nodeName: string;
  private readonly cache: WatchedCache<PodResource>;
  private readonly tokens: KubernetesTokenSource;
  private unsubscribe: (() => void) | undefined;
  private listCount = 0;

  constructor(private readonly options: ApiServerPodFeedOptions) {
    this.nodeName = options.nodeName;
    this.cache = new WatchedCache<PodResource>(nodePodsCacheOptions({ ...options, onList: () => (this.listCount += 1) }));
    this.tokens = new KubernetesTokenSource({ client: options.client });
  }

  /** How many times the pods were listed (1 after the start; more after a 410 Gone). */
  get lists(): number {
    return this.listCount;
  }

  start(listener: (event: PodFeedEvent) => void): void {
    this.unsubscribe = this.cache.subscribe(({ type, object }) => listener({ type, pod: object }));
    this.cache.start();
  }

  whenSynced(): Promise<void> {
    return this.cache.whenSynced();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.cache.stop();
  }

  async csiDriver(name: string): Promise<CsiDriverShape | undefined> {
    try {
      return (await this.options.client.api.get<{ spec: CsiDriverShape }>(apiPaths.csiDriver(name))).spec;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async secretData(namespace: string, name: string): Promise<StringRecord> {
    const secret = await this.options.client.api.get<{ data?: StringRecord }>(apiPaths.secret(namespace, name));
    const data: StringRecord = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64').toString('utf8');
    return data;
  }

  serviceAccountTokens(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    return this.tokens.tokensFor(pod, requests);
  }

  async recordWarning(pod: PodIdentity, reason: string, message: string): Promise<void> {
    const now = Date.now();
    const body = toEventResource(
      { pod, type: 'Warning', reason, message },
      { name: `${pod.name}.${randomBytes(8).toString('hex')}`, timeMs: now, nodeName: this.nodeName, component: 'kubelet' },
    );
    try {
      await this.options.client.api.create(apiPaths.events(pod.namespace), body);
    } catch (error) {
      this.options.logger?.warn('kubelet: could not record an event', { reason, error: apiFailure(error).message });
    }
  }

  async confirmDeletion(pod: PodIdentity): Promise<boolean> {
    try {
      await this.options.client.api.delete(apiPaths.pod(pod.namespace, pod.name), { gracePeriodSeconds: 0, preconditions: { uid: pod.uid } });
      return true;
    } catch (error) {
      // 404: gone already; 409: the name now belongs to another pod.
      const code = apiFailure(error).code;
      if (code === 404 || code === 409) return false;
      throw error;
    }
  }
}
