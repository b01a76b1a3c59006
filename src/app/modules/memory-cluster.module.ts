import { ContainerModule } from 'inversify';
import type { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { MemoryEventRecorder } from '../../adapters/memory-cluster/memory-event-recorder.js';
import { MemoryPodSource } from '../../adapters/memory-cluster/memory-pod-source.js';
import { MemoryPodStatusStore } from '../../adapters/memory-cluster/memory-pod-status-store.js';
import { MemorySecretProviderClassSource } from '../../adapters/memory-cluster/memory-secret-provider-class-source.js';
import { MemorySecretSink } from '../../adapters/memory-cluster/memory-secret-sink.js';
import { MemoryTokenAudiences } from '../../adapters/memory-cluster/memory-token-audiences.js';
import { MemoryTokenSource } from '../../adapters/memory-cluster/memory-token-source.js';
import type { TokenRequest } from '../../domain/service-account-tokens.js';
import { Clock } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { Logger } from '../../ports/logger.js';
import { PodSource } from '../../ports/pod-source.js';
import { PodStatusStore } from '../../ports/pod-status-store.js';
import { SecretProviderClassSource } from '../../ports/secret-provider-class-source.js';
import { SecretSink } from '../../ports/secret-sink.js';
import { TokenAudiences } from '../../ports/token-audiences.js';
import { TokenSource } from '../../ports/token-source.js';

/**
 * The cluster-facing ports over one in-memory cluster (simulation, `driver --cluster memory`, tests).
 * `tokenRequests` stands for the CSIDriver's tokenRequests (none by default).
 */
export function memoryClusterModule(cluster: InMemoryCluster, tokenRequests: readonly TokenRequest[] = []): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(SecretProviderClassSource).toConstantValue(new MemorySecretProviderClassSource(cluster));
    bind(PodStatusStore).toConstantValue(new MemoryPodStatusStore(cluster));
    bind(SecretSink).toConstantValue(new MemorySecretSink(cluster));
    bind(PodSource).toConstantValue(new MemoryPodSource(cluster));
    bind(TokenAudiences).toConstantValue(new MemoryTokenAudiences(tokenRequests));
    bind(TokenSource)
      .toResolvedValue((clock: Clock) => new MemoryTokenSource(clock), [Clock])
      .inSingletonScope();
    bind(EventRecorder)
      .toResolvedValue((clock: Clock, logger: Logger) => new MemoryEventRecorder(cluster, clock, { logger }), [Clock, Logger])
      .inSingletonScope();
  });
}
