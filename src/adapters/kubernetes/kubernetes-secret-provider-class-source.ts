import type { SecretProviderClass } from '../../domain/secret-provider-class.js';
import type { Logger } from '../../ports/logger.js';
import type { ClassChange, SecretProviderClassSource } from '../../ports/secret-provider-class-source.js';
import { toSecretProviderClass } from '../kube-objects/class-mapping.js';
import { MappedOnce } from '../kube-objects/mapped-once.js';
import type { SecretProviderClassResource } from '../kube-objects/object-shapes.js';
import { apiError, isNotFound } from './api-errors.js';
import { csiCollection, csiObject, SECRET_PROVIDER_CLASSES } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { slimObject } from './slim-objects.js';
import { listOf, WatchedSource } from './watched-source.js';

export interface KubernetesSecretProviderClassSourceOptions {
  readonly client: KubernetesClient;
  readonly logger?: Logger;
  /** First retry delay of the watch after a failure (tests shorten it). */
  readonly retryDelayMs?: number;
}

/**
 * SecretProviderClasses of all namespaces from a watch-backed cache (one list + watch for the node).
 * Until the first list has loaded, `get` reads from the API server instead; a failed read rejects with
 * an Internal DomainError naming the class. Call `start` once and `stop` on shutdown.
 */
export class KubernetesSecretProviderClassSource extends WatchedSource<SecretProviderClassResource> implements SecretProviderClassSource {
  private readonly client: KubernetesClient;
  /**
   * Each cached object mapped once and frozen: the watch replaces an object when its class changes, so every check
   * between two changes gets the same class object (and what the fetch built from it can be reused).
   */
  private readonly mapped = new MappedOnce<SecretProviderClassResource, SecretProviderClass>(toSecretProviderClass);

  constructor(options: KubernetesSecretProviderClassSourceOptions) {
    super({
      resource: SECRET_PROVIDER_CLASSES,
      path: csiCollection(SECRET_PROVIDER_CLASSES),
      watch: options.client.watch,
      keep: slimObject,
      list: () => listOf<SecretProviderClassResource>(options.client, csiCollection(SECRET_PROVIDER_CLASSES), {}, slimObject),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
    this.client = options.client;
  }

  async get(namespace: string, name: string): Promise<SecretProviderClass | undefined> {
    if (!this.cache.hasSynced()) {
      const object = await this.read(namespace, name);
      return object === undefined ? undefined : toSecretProviderClass(object);
    }
    const object = this.cache.get(namespace, name);
    return object === undefined ? undefined : this.mapped.of(object);
  }

  onChange(listener: (change: ClassChange) => void): () => void {
    return this.cache.subscribe(({ object }) => listener({ namespace: object.metadata.namespace ?? '', name: object.metadata.name }));
  }

  private async read(namespace: string, name: string): Promise<SecretProviderClassResource | undefined> {
    try {
      return await this.client.read<SecretProviderClassResource>(SECRET_PROVIDER_CLASSES, csiObject(SECRET_PROVIDER_CLASSES, namespace, name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get secretproviderclass ${namespace}/${name}`, error);
    }
  }
}
