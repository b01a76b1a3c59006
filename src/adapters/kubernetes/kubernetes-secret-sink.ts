import type { CurrentSecret, NewSecret, SecretPatch } from '../../domain/secret-sync-plan.js';
import type { SecretSink } from '../../ports/secret-sink.js';
import type { SecretResource } from '../kube-objects/object-shapes.js';
import { toCurrentSecret, toSecretMergePatch, toSecretResource } from '../kube-objects/secret-mapping.js';
import { apiError, isNotFound } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesSecretSinkOptions {
  readonly client: KubernetesClient;
}

/**
 * Kubernetes Secrets through the API server. `patch` sends a JSON merge patch of only the fields the
 * driver owns (labels, annotations, owner references, data keys), so fields others set survive.
 * Failures (a Secret that exists on create, a missing one on patch, RBAC) reject with an Internal
 * DomainError carrying the API server's message.
 */
export class KubernetesSecretSink implements SecretSink {
  private readonly client: KubernetesClient;

  constructor(options: KubernetesSecretSinkOptions) {
    this.client = options.client;
  }

  async get(namespace: string, name: string): Promise<CurrentSecret | undefined> {
    try {
      return toCurrentSecret(await this.client.read<SecretResource>('secrets', apiPaths.secret(namespace, name)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get Secret ${namespace}/${name}`, error);
    }
  }

  async create(secret: NewSecret): Promise<void> {
    try {
      await this.client.api.create(apiPaths.secrets(secret.namespace), toSecretResource(secret));
    } catch (error) {
      throw apiError(`failed to create Secret ${secret.namespace}/${secret.name}`, error);
    }
  }

  async patch(namespace: string, name: string, patch: SecretPatch): Promise<void> {
    try {
      await this.client.api.mergePatch(apiPaths.secret(namespace, name), toSecretMergePatch(patch));
    } catch (error) {
      throw apiError(`failed to patch Secret ${namespace}/${name}`, error);
    }
  }
}
