import { MANAGED_LABEL, type CurrentSecret, type NewSecret, type SecretPatch } from '../../domain/secret-sync-plan.js';
import type { Logger } from '../../ports/logger.js';
import type { SecretSink } from '../../ports/secret-sink.js';
import type { SecretResource } from '../kube-objects/object-shapes.js';
import { toCurrentSecret, toSecretMergePatch, toSecretResource } from '../kube-objects/secret-mapping.js';
import { apiError, apiFailure, isNotFound } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';
import { RecentWrites } from './recent-writes.js';
import { slimObject } from './slim-objects.js';
import { WatchedCache } from './watched-cache.js';
import { listOf } from './watched-source.js';

export interface KubernetesSecretSinkOptions {
  readonly client: KubernetesClient;
  readonly logger?: Logger;
  /** First retry delay of the managed-Secret watch after a failure (tests shorten it). */
  readonly retryDelayMs?: number;
}

/** The Secrets the driver syncs carry this label; only those are watched. */
const MANAGED_SELECTOR = `${MANAGED_LABEL}=true`;

/**
 * Kubernetes Secrets through the API server. `patch` sends a JSON merge patch of only the fields the
 * driver owns (labels, annotations, owner references, data keys), so fields others set survive.
 * Failures (a Secret that exists on create, a missing one on patch, RBAC) reject with an Internal
 * DomainError carrying the API server's message.
 *
 * Reads: the first `get` starts a watch of the Secrets the driver manages (label
 * `secrets-store.csi.k8s.io/managed=true`, all namespaces, as upstream's informer), when the driver may
 * list them (the Secret sync role grants it); once listed, a managed Secret is read from it. Any other
 * read (an unmanaged or new Secret; every read when listing is not allowed, said once in the log)
 * goes to the API server and counts as a direct read. Call `stop` on shutdown.
 */
export class KubernetesSecretSink implements SecretSink {
  private readonly client: KubernetesClient;
  private managed: { cache: WatchedCache<SecretResource>; written: RecentWrites<SecretResource> } | undefined;
  private watching: Promise<void> | undefined;

  constructor(private readonly options: KubernetesSecretSinkOptions) {
    this.client = options.client;
  }

  async get(namespace: string, name: string): Promise<CurrentSecret | undefined> {
    this.watchManagedSecrets();
    const cached = this.managed?.cache.hasSynced() ? this.managed.written.get(namespace, name) : undefined;
    if (cached !== undefined) return toCurrentSecret(cached);
    try {
      return toCurrentSecret(await this.client.read<SecretResource>('secrets', apiPaths.secret(namespace, name)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get Secret ${namespace}/${name}`, error);
    }
  }

  async create(secret: NewSecret): Promise<void> {
    try {
      this.remember(await this.client.api.create<SecretResource>(apiPaths.secrets(secret.namespace), toSecretResource(secret)));
    } catch (error) {
      throw apiError(`failed to create Secret ${secret.namespace}/${secret.name}`, error);
    }
  }

  async patch(namespace: string, name: string, patch: SecretPatch): Promise<void> {
    try {
      this.remember(await this.client.api.mergePatch<SecretResource>(apiPaths.secret(namespace, name), toSecretMergePatch(patch)));
    } catch (error) {
      throw apiError(`failed to patch Secret ${namespace}/${name}`, error);
    }
  }

  /** Resolves once the managed Secrets are listed, or at once when they are not watched (yet). */
  whenSynced(): Promise<void> {
    return (this.watching ?? Promise.resolve()).then(() => this.managed?.cache.whenSynced());
  }

  stop(): void {
    this.managed?.cache.stop();
  }

  /** A managed Secret's new state, so the next read sees it before the watch delivers it. */
  private remember(written: SecretResource): void {
    if (written.metadata.labels?.[MANAGED_LABEL] === 'true') this.managed?.written.remember(slimObject(written));
  }

  /** Once: a probe list tells whether the driver may list managed Secrets; if so the watch starts. */
  private watchManagedSecrets(): void {
    this.watching ??= this.client.api.get(apiPaths.allSecrets, { labelSelector: MANAGED_SELECTOR, limit: 1 }).then(
      () => {
        const cache = new WatchedCache<SecretResource>({
          resource: 'secrets',
          path: apiPaths.allSecrets,
          watch: this.client.watch,
          labelSelector: MANAGED_SELECTOR,
          keep: slimObject,
          list: () => listOf<SecretResource>(this.client, apiPaths.allSecrets, { labelSelector: MANAGED_SELECTOR }, slimObject),
          ...(this.options.logger ? { logger: this.options.logger } : {}),
          ...(this.options.retryDelayMs !== undefined ? { retryDelayMs: this.options.retryDelayMs } : {}),
        });
        this.managed = { cache, written: new RecentWrites(cache) };
        cache.start();
      },
      (error: unknown) => {
        if (apiFailure(error).code === 403) {
          this.options.logger?.info('Secrets are read from the API server: listing the managed Secrets is not allowed (the Secret sync role grants it)');
          return;
        }
        this.watching = undefined; // try again with the next read
      },
    );
  }
}
