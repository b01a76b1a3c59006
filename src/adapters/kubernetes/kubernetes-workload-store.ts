import type { StringMap } from '../../domain/volume-binding.js';
import { WORKLOAD_KINDS, type Workload, type WorkloadKey, type WorkloadKind } from '../../domain/workload.js';
import type { Logger } from '../../ports/logger.js';
import type { TemplateWrite, WorkloadStore } from '../../ports/workload-store.js';
import { KIND_INFO, type WorkloadResource } from '../kube-objects/object-shapes.js';
import { toWorkload } from '../kube-objects/workload-mapping.js';
import { apiError, apiFailure } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';
import { slimObject } from './slim-objects.js';
import { WatchedCache } from './watched-cache.js';
import { listOf } from './watched-source.js';

export interface KubernetesWorkloadStoreOptions {
  readonly client: KubernetesClient;
  readonly logger?: Logger;
  readonly retryDelayMs?: number;
}

/**
 * Deployments, StatefulSets and DaemonSets of all namespaces from three watch-backed caches; a restart
 * is a JSON merge patch of the pod template annotations carrying the resourceVersion that was read
 * (the API server refuses it with 409 when the workload moved on). Call `start` once, `stop` on shutdown.
 */
export class KubernetesWorkloadStore implements WorkloadStore {
  private readonly client: KubernetesClient;
  private readonly caches: ReadonlyMap<WorkloadKind, WatchedCache<WorkloadResource>>;

  constructor(options: KubernetesWorkloadStoreOptions) {
    this.client = options.client;
    this.caches = new Map(
      WORKLOAD_KINDS.map((kind) => {
        const { plural } = KIND_INFO[kind];
        const cache = new WatchedCache<WorkloadResource>({
          resource: plural,
          path: apiPaths.apps(plural),
          keep: slimObject,
          watch: options.client.watch,
          list: async () => {
            const { items, resourceVersion } = await listOf<WorkloadResource>(options.client, apiPaths.apps(plural), {}, slimObject);
            // List items carry no kind: set it, as the watch's objects have it.
            return { items: items.map((item) => ({ ...item, kind, apiVersion: 'apps/v1' }) as WorkloadResource), resourceVersion };
          },
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
        });
        return [kind, cache];
      }),
    );
  }

  start(): void {
    for (const cache of this.caches.values()) cache.start();
  }

  stop(): void {
    for (const cache of this.caches.values()) cache.stop();
  }

  async whenSynced(): Promise<void> {
    await Promise.all([...this.caches.values()].map((cache) => cache.whenSynced()));
  }

  /** The resourceVersion a cache holds for a workload (tests wait on it). */
  cachedResourceVersion(key: WorkloadKey): string | undefined {
    return this.caches.get(key.kind)!.get(key.namespace, key.name)?.metadata.resourceVersion;
  }

  async get(key: WorkloadKey): Promise<Workload | undefined> {
    const object = this.caches.get(key.kind)!.get(key.namespace, key.name);
    return object === undefined ? undefined : toWorkload(object);
  }

  async list(): Promise<Workload[]> {
    return [...this.caches.values()].flatMap((cache) => cache.list().map(toWorkload));
  }

  async setTemplateAnnotations(workload: Workload, annotations: StringMap): Promise<TemplateWrite> {
    const { kind, namespace, name } = workload.key;
    const body = { metadata: { uid: workload.uid, resourceVersion: workload.resourceVersion }, spec: { template: { metadata: { annotations: { ...annotations } } } } };
    try {
      await this.client.api.mergePatch(apiPaths.appsObject(KIND_INFO[kind].plural, namespace, name), body);
      return 'written';
    } catch (error) {
      const { code } = apiFailure(error);
      if (code === 409) return 'conflict';
      if (code === 404) return 'gone';
      throw apiError(`failed to annotate the pod template of ${kind} ${namespace}/${name}`, error);
    }
  }

  onChange(listener: (key: WorkloadKey) => void): () => void {
    const stops = [...this.caches.entries()].map(([kind, cache]) =>
      cache.subscribe(({ object }) => listener({ kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name })),
    );
    return () => stops.forEach((stop) => stop());
  }
}
