import type { SecretProviderClass } from '../../domain/secret-provider-class.js';
import type { ClassChange, SecretProviderClassSource } from '../../ports/secret-provider-class-source.js';
import { toSecretProviderClass } from '../kube-objects/class-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/** SecretProviderClasses read from the in-memory cluster; changes arrive through its watch. */
export class MemorySecretProviderClassSource implements SecretProviderClassSource {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(namespace: string, name: string): Promise<SecretProviderClass | undefined> {
    return this.cluster.read('SecretProviderClass', namespace, name, toSecretProviderClass);
  }

  onChange(listener: (change: ClassChange) => void): () => void {
    return this.cluster.watch('SecretProviderClass', ({ object }) =>
      listener({ namespace: object.metadata.namespace ?? '', name: object.metadata.name }),
    );
  }
}
