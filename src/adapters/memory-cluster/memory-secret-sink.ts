import type { CurrentSecret, NewSecret, SecretPatch } from '../../domain/secret-sync-plan.js';
import type { SecretSink } from '../../ports/secret-sink.js';
import { toCurrentSecret, toSecretMergePatch, toSecretResource } from '../kube-objects/secret-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';
import type { JsonObject } from './json.js';

/**
 * Kubernetes Secrets in the in-memory cluster. `create` rejects with KubeApiError AlreadyExists for
 * an existing Secret; `patch` is a JSON merge patch and rejects with NotFound for a missing one.
 */
export class MemorySecretSink implements SecretSink {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(namespace: string, name: string): Promise<CurrentSecret | undefined> {
    const object = this.cluster.get('Secret', namespace, name);
    return object === undefined ? undefined : toCurrentSecret(object);
  }

  async create(secret: NewSecret): Promise<void> {
    this.cluster.create(toSecretResource(secret));
  }

  async patch(namespace: string, name: string, patch: SecretPatch): Promise<void> {
    this.cluster.patch('Secret', namespace, name, toSecretMergePatch(patch) as unknown as JsonObject);
  }
}
