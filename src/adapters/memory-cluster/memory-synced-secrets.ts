import type { SyncedSecret } from '../../domain/restart-on-rotation.js';
import { MANAGED_LABEL } from '../../domain/secret-sync-plan.js';
import type { SyncedSecrets } from '../../ports/synced-secrets.js';
import { toSyncedSecret } from '../kube-objects/secret-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/** The driver's synced Secrets in the in-memory cluster, metadata only. */
export class MemorySyncedSecrets implements SyncedSecrets {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(namespace: string, name: string): Promise<SyncedSecret | undefined> {
    return this.cluster.read('Secret', namespace, name, (object) => (object.metadata.labels?.[MANAGED_LABEL] === 'true' ? toSyncedSecret(object) : undefined));
  }

  onChange(listener: (secret: { readonly namespace: string; readonly name: string }) => void): () => void {
    return this.cluster.watch('Secret', ({ object }) => {
      if (object.metadata.labels?.[MANAGED_LABEL] === 'true') listener({ namespace: object.metadata.namespace!, name: object.metadata.name });
    });
  }
}
