import { ContainerModule, type Container } from 'inversify';
import type { ApiCredentials } from '../../adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../adapters/kubernetes/kubernetes-client.js';
import { KubernetesEventRecorder } from '../../adapters/kubernetes/kubernetes-event-recorder.js';
import { KubernetesPodSource } from '../../adapters/kubernetes/kubernetes-pod-source.js';
import { KubernetesPodStatusStore } from '../../adapters/kubernetes/kubernetes-pod-status-store.js';
import { KubernetesSecretProviderClassSource } from '../../adapters/kubernetes/kubernetes-secret-provider-class-source.js';
import { KubernetesSecretSink } from '../../adapters/kubernetes/kubernetes-secret-sink.js';
import { KubernetesTokenAudiences } from '../../adapters/kubernetes/kubernetes-token-audiences.js';
import { KubernetesTokenSource } from '../../adapters/kubernetes/kubernetes-token-source.js';
import { prunedRotationStatusFields } from '../../adapters/kubernetes/pod-status-schema.js';
import { Clock } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { Logger } from '../../ports/logger.js';
import { Metrics } from '../../ports/metrics.js';
import { PodSource } from '../../ports/pod-source.js';
import { PodStatusStore } from '../../ports/pod-status-store.js';
import { SecretProviderClassSource } from '../../ports/secret-provider-class-source.js';
import { SecretSink } from '../../ports/secret-sink.js';
import { TokenAudiences } from '../../ports/token-audiences.js';
import { TokenSource } from '../../ports/token-source.js';

export { loadApiCredentials } from '../../adapters/kubernetes/kubernetes-client.js';

export interface KubernetesModuleOptions {
  /** From `loadApiCredentials(config.kubeconfig)`: `--kubeconfig`, else KUBECONFIG, else in-cluster. */
  readonly credentials: ApiCredentials;
  /** `secrets-store-csi/<version>`, the User-Agent of every request. */
  readonly userAgent: string;
  /** This node (`--nodeid`): pods are watched for it only, events name it as their source. */
  readonly nodeName: string;
  /** `--drivername`: the CSIDriver whose tokenRequests name the service-account token audiences. */
  readonly driverName: string;
}

/**
 * The cluster-facing ports over the Kubernetes API (`driver --cluster kubernetes`, production). The
 * class and pod status caches and the token audiences start following the cluster when first resolved,
 * the pod cache at its first read (the node's first volume); all stop when the container unbinds. Reads that go past the caches count in
 * `api_server_reads_total`.
 */
export function kubernetesModule(options: KubernetesModuleOptions): ContainerModule {
  const { nodeName } = options;
  return new ContainerModule(({ bind }) => {
    bind(KubernetesClient)
      .toResolvedValue(
        (metrics: Metrics) => new KubernetesClient(options.credentials, { userAgent: options.userAgent, onDirectRead: (resource) => metrics.apiServerRead(resource) }),
        [Metrics],
      )
      .inSingletonScope()
      .onDeactivation((client) => client.close());
    bind(KubernetesSecretProviderClassSource)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => started(new KubernetesSecretProviderClassSource({ client, logger })), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((source) => source.stop());
    bind(SecretProviderClassSource).toService(KubernetesSecretProviderClassSource);
    bind(KubernetesPodSource)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => new KubernetesPodSource({ client, nodeName, logger }), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((source) => source.stop());
    bind(PodSource).toService(KubernetesPodSource);
    bind(KubernetesPodStatusStore)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => started(new KubernetesPodStatusStore({ client, nodeName, logger })), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((store) => store.stop());
    bind(PodStatusStore).toService(KubernetesPodStatusStore);
    bind(KubernetesSecretSink)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => new KubernetesSecretSink({ client, logger }), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((sink) => sink.stop());
    bind(SecretSink).toService(KubernetesSecretSink);
    bind(TokenSource)
      .toResolvedValue((client: KubernetesClient) => new KubernetesTokenSource({ client }), [KubernetesClient])
      .inSingletonScope();
    bind(KubernetesTokenAudiences)
      .toResolvedValue(
        (client: KubernetesClient, logger: Logger) => started(new KubernetesTokenAudiences({ client, driverName: options.driverName, logger })),
        [KubernetesClient, Logger],
      )
      .inSingletonScope()
      .onDeactivation((audiences) => audiences.stop());
    bind(TokenAudiences).toService(KubernetesTokenAudiences);
    bind(EventRecorder)
      .toResolvedValue(
        (client: KubernetesClient, clock: Clock, logger: Logger) => new KubernetesEventRecorder({ client, clock, nodeName, logger }),
        [KubernetesClient, Clock, Logger],
      )
      .inSingletonScope();
  });
}

/**
 * Resolves once the class and pod status caches of a container loaded with `kubernetesModule` hold their
 * first list (the driver's readiness). Resolving them starts their watches if nothing has yet. The pod
 * cache is not waited for: it starts with the node's first volume, and that read waits for it.
 */
export async function kubernetesCachesSynced(container: Container): Promise<void> {
  await Promise.all(
    [KubernetesSecretProviderClassSource, KubernetesPodStatusStore].map((cache) => container.get<{ whenSynced(): Promise<void> }>(cache).whenSynced()),
  );
}

/**
 * Warns once when the cluster's SecretProviderClassPodStatus CRD drops the rotation status fields (upstream's
 * CRD, kept on an upgrade). Rotation goes on either way: the fields only report it. A check that cannot be made
 * (no permission, an API failure) is logged and changes nothing.
 */
export async function warnAboutPrunedStatusFields(container: Container, logger: Logger): Promise<void> {
  try {
    const pruned = await prunedRotationStatusFields(container.get(KubernetesClient));
    if (pruned.length === 0) return;
    logger.warn(
      'the SecretProviderClassPodStatus CRD in the cluster drops status fields this driver writes (upstream\'s CRD was kept): ' +
        'rotation goes on, but these fields and the Last-Rotation and Rotation-Error columns stay empty until deploy/crds is applied ' +
        '(chart: linux.crds.enabled=true)',
      { fields: pruned.join(',') },
    );
  } catch (error) {
    logger.info('could not check which status fields the SecretProviderClassPodStatus CRD keeps', { error });
  }
}

function started<T extends { start(): void }>(watcher: T): T {
  watcher.start();
  return watcher;
}
