import type { SyncedSecret } from '../domain/restart-on-rotation.js';

/**
 * The Secrets the driver syncs (label `secrets-store.csi.k8s.io/managed=true`), metadata only: their
 * data is never kept nor handed out.
 * Contract: `get` resolves undefined for a missing Secret and for one without the label; listeners hear
 * of every add, change and deletion of a labelled Secret after `get` reflects it; returns an
 * unsubscribe function.
 */
export interface SyncedSecrets {
  get(namespace: string, name: string): Promise<SyncedSecret | undefined>;
  onChange(listener: (secret: { readonly namespace: string; readonly name: string }) => void): () => void;
}
export const SyncedSecrets = Symbol.for('SyncedSecrets');
