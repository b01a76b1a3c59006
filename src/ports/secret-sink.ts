import type { CurrentSecret, NewSecret, SecretPatch } from '../domain/secret-sync-plan.js';

/**
 * Kubernetes Secrets the driver syncs from mounted files (`get` also reads a volume's nodePublishSecretRef
 * Secret when kubelet has not passed its data since a restart).
 * Contract: `get` resolves undefined for a missing Secret; `create` rejects when the Secret already
 * exists; `patch` changes only the fields in the patch (merge semantics, `null` data removes a key).
 */
export interface SecretSink {
  get(namespace: string, name: string): Promise<CurrentSecret | undefined>;
  create(secret: NewSecret): Promise<void>;
  patch(namespace: string, name: string, patch: SecretPatch): Promise<void>;
}
export const SecretSink = Symbol.for('SecretSink');
