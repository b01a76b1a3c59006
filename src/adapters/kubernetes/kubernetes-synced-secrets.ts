import type { SyncedSecret } from '../../domain/restart-on-rotation.js';
import { MANAGED_LABEL } from '../../domain/secret-sync-plan.js';
import type { Logger } from '../../ports/logger.js';
import type { SyncedSecrets } from '../../ports/synced-secrets.js';
import type { SecretResource } from '../kube-objects/object-shapes.js';
import { toSyncedSecret, withoutSecretData } from '../kube-objects/secret-mapping.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';
import { listOf, WatchedSource } from './watched-source.js';

export interface KubernetesSyncedSecretsOptions {
  readonly client: KubernetesClient;
  readonly logger?: Logger;
  readonly retryDelayMs?: number;
}

/**
 * The driver's synced Secrets of all namespaces (label selector `secrets-store.csi.k8s.io/managed=true`)
 * from a watch-backed cache that drops each Secret's data as it arrives: only metadata is kept.
 * Call `start` once, `stop` on shutdown.
 */
export class KubernetesSyncedSecrets extends WatchedSource<SecretResource> implements SyncedSecrets {
  constructor(options: KubernetesSyncedSecretsOptions) {
    const labelSelector = `${MANAGED_LABEL}=true`;
    super({
      resource: 'secrets',
      path: apiPaths.secretsOfAllNamespaces,
      watch: options.client.watch,
      labelSelector,
      keep: withoutSecretData,
      list: () => listOf<SecretResource>(options.client, apiPaths.secretsOfAllNamespaces, { labelSelector }, withoutSecretData),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
  }

  async get(namespace: string, name: string): Promise<SyncedSecret | undefined> {
    const object = this.cache.get(namespace, name);
    return object === undefined ? undefined : toSyncedSecret(object);
  }

  onChange(listener: (secret: { readonly namespace: string; readonly name: string }) => void): () => void {
    return this.cache.subscribe(({ object }) => listener({ namespace: object.metadata.namespace ?? '', name: object.metadata.name }));
  }
}
