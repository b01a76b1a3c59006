import { ContainerModule } from 'inversify';
import { ApplyPayload } from '../../application/apply-payload.js';
import { BindingRegistry } from '../../application/binding-registry.js';
import { FetchSecrets } from '../../application/fetch-secrets.js';
import { NodeVolumeService } from '../../application/node-volume-service.js';
import { ProviderHealthCheck } from '../../application/provider-health-check.js';
import { PayloadMemoryBudget, type PayloadMemorySettings } from '../../application/payload-memory-budget.js';
import { ProviderRateLimiter } from '../../application/provider-rate-limiter.js';
import { PublishVolume } from '../../application/publish-volume.js';
import { RefreshCredentials } from '../../application/refresh-credentials.js';
import { RecoverBindings } from '../../application/recover-bindings.js';
import { RotateBinding } from '../../application/rotate-binding.js';
import { RotationReconciler, type ReconcilerSettings } from '../../application/rotation-reconciler.js';
import { SyncSecrets } from '../../application/sync-secrets.js';
import { TargetLocks } from '../../application/target-locks.js';
import { UnpublishVolume } from '../../application/unpublish-volume.js';
import { Clock, Random, Scheduler } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { Logger } from '../../ports/logger.js';
import { MemoryReclaimer } from '../../ports/memory-reclaimer.js';
import { Metrics } from '../../ports/metrics.js';
import { MountWriter } from '../../ports/mount-writer.js';
import { NodeVolumes } from '../../ports/node-volumes.js';
import { PodSource } from '../../ports/pod-source.js';
import { PodStatusStore } from '../../ports/pod-status-store.js';
import { ProviderProbe } from '../../ports/provider-probe.js';
import { SecretProvider } from '../../ports/secret-provider.js';
import { SecretProviderClassSource } from '../../ports/secret-provider-class-source.js';
import { SecretSink } from '../../ports/secret-sink.js';
import { TokenAudiences } from '../../ports/token-audiences.js';
import { TokenSource } from '../../ports/token-source.js';
import { VolumeMounter } from '../../ports/volume-mounter.js';

export interface ApplicationSettings {
  readonly nodeName: string;
  readonly kubeletRoot: string;
  readonly rotation: ReconcilerSettings;
  /** `--provider-health-check-interval` (default 2 minutes, as upstream). */
  readonly providerHealthCheckIntervalMs?: number;
  /** The payload memory budget; absent: provider answers are not limited (tests, in-process benchmarks). */
  readonly payloadMemory?: PayloadMemorySettings;
}

/** Deadline of one health-check Version call, as upstream's. */
const HEALTH_CHECK_TIMEOUT_MS = 5_000;
const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 120_000;
const UNLIMITED_PAYLOAD_MEMORY: PayloadMemorySettings = { budgetBytes: Infinity, maxAnswerBytes: 4 * 1024 * 1024 };

/**
 * The use cases and the rotation loop, wired by factories (the classes carry no decorators).
 * Every port they need must be bound by the profile's adapter modules (ProviderProbe only when the
 * provider health check is asked for).
 */
export function applicationModule(settings: ApplicationSettings): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(BindingRegistry)
      .toResolvedValue((metrics: Metrics, clock: Clock) => {
        const registry = new BindingRegistry();
        metrics.readContentAgeFrom(() => registry.oldestContentAge(clock.now()));
        return registry;
      }, [Metrics, Clock])
      .inSingletonScope();
    bind(TargetLocks).toResolvedValue(() => new TargetLocks()).inSingletonScope();
    bind(PayloadMemoryBudget)
      .toResolvedValue(
        (reclaimer: MemoryReclaimer, scheduler: Scheduler) => new PayloadMemoryBudget(settings.payloadMemory ?? UNLIMITED_PAYLOAD_MEMORY, reclaimer, scheduler),
        [MemoryReclaimer, Scheduler],
      )
      .inSingletonScope();
    bind(FetchSecrets)
      .toResolvedValue(
        (classes: SecretProviderClassSource, provider: SecretProvider, metrics: Metrics, clock: Clock, scheduler: Scheduler, logger: Logger) => {
          const limit = { qps: settings.rotation.providerQps ?? 0, burst: settings.rotation.providerBurst ?? 1 };
          return new FetchSecrets(classes, provider, metrics, new ProviderRateLimiter(limit, clock, scheduler), logger);
        },
        [SecretProviderClassSource, SecretProvider, Metrics, Clock, Scheduler, Logger],
      )
      .inSingletonScope();
    bind(SyncSecrets)
      .toResolvedValue((sink: SecretSink, events: EventRecorder, metrics: Metrics, clock: Clock, logger: Logger) =>
        new SyncSecrets(sink, events, metrics, clock, logger), [
        SecretSink,
        EventRecorder,
        Metrics,
        Clock,
        Logger,
      ])
      .inSingletonScope();
    bind(ApplyPayload)
      .toResolvedValue((mounter: VolumeMounter, writer: MountWriter, statuses: PodStatusStore, pods: PodSource, sync: SyncSecrets) =>
        new ApplyPayload(mounter, writer, statuses, pods, sync, settings.nodeName), [
        VolumeMounter,
        MountWriter,
        PodStatusStore,
        PodSource,
        SyncSecrets,
      ])
      .inSingletonScope();
    bind(PublishVolume)
      .toResolvedValue((fetch: FetchSecrets, mounter: VolumeMounter, apply: ApplyPayload, clock: Clock, logger: Logger, answers: PayloadMemoryBudget) =>
        new PublishVolume(fetch, mounter, apply, clock, logger, answers), [
        FetchSecrets,
        VolumeMounter,
        ApplyPayload,
        Clock,
        Logger,
        PayloadMemoryBudget,
      ])
      .inSingletonScope();
    bind(UnpublishVolume)
      .toResolvedValue((writer: MountWriter, mounter: VolumeMounter, logger: Logger) => new UnpublishVolume(writer, mounter, logger), [
        MountWriter,
        VolumeMounter,
        Logger,
      ])
      .inSingletonScope();
    bind(RefreshCredentials)
      .toResolvedValue(
        (audiences: TokenAudiences, tokens: TokenSource, pods: PodSource, secrets: SecretSink, clock: Clock, logger: Logger) =>
          new RefreshCredentials(audiences, tokens, pods, secrets, clock, logger),
        [TokenAudiences, TokenSource, PodSource, SecretSink, Clock, Logger],
      )
      .inSingletonScope();
    bind(RotateBinding)
      .toResolvedValue(
        (
          pods: PodSource,
          credentials: RefreshCredentials,
          fetch: FetchSecrets,
          apply: ApplyPayload,
          events: EventRecorder,
          metrics: Metrics,
          clock: Clock,
          logger: Logger,
          answers: PayloadMemoryBudget,
        ) => new RotateBinding(pods, credentials, fetch, apply, events, metrics, clock, logger, answers),
        [PodSource, RefreshCredentials, FetchSecrets, ApplyPayload, EventRecorder, Metrics, Clock, Logger, PayloadMemoryBudget],
      )
      .inSingletonScope();
    bind(RotationReconciler)
      .toResolvedValue(
        (
          registry: BindingRegistry,
          locks: TargetLocks,
          rotate: RotateBinding,
          classes: SecretProviderClassSource,
          pods: PodSource,
          clock: Clock,
          scheduler: Scheduler,
          random: Random,
          logger: Logger,
        ) =>
          new RotationReconciler(settings.rotation, registry, locks, rotate, classes, pods, clock, scheduler, random, logger),
        [BindingRegistry, TargetLocks, RotateBinding, SecretProviderClassSource, PodSource, Clock, Scheduler, Random, Logger],
      )
      .inSingletonScope();
    bind(RecoverBindings)
      .toResolvedValue(
        (
          statuses: PodStatusStore,
          pods: PodSource,
          classes: SecretProviderClassSource,
          mounter: VolumeMounter,
          registry: BindingRegistry,
          locks: TargetLocks,
          reconciler: RotationReconciler,
          clock: Clock,
          logger: Logger,
        ) =>
          new RecoverBindings(settings.nodeName, settings.kubeletRoot, statuses, pods, classes, mounter, registry, locks, reconciler, clock, logger),
        [PodStatusStore, PodSource, SecretProviderClassSource, VolumeMounter, BindingRegistry, TargetLocks, RotationReconciler, Clock, Logger],
      )
      .inSingletonScope();
    bind(ProviderHealthCheck)
      .toResolvedValue(
        (probe: ProviderProbe, metrics: Metrics, clock: Clock, scheduler: Scheduler, logger: Logger) =>
          new ProviderHealthCheck(probe, metrics, clock, scheduler, logger, {
            intervalMs: settings.providerHealthCheckIntervalMs ?? DEFAULT_HEALTH_CHECK_INTERVAL_MS,
            timeoutMs: HEALTH_CHECK_TIMEOUT_MS,
          }),
        [ProviderProbe, Metrics, Clock, Scheduler, Logger],
      )
      .inSingletonScope();
    bind(NodeVolumes)
      .toResolvedValue(
        (
          locks: TargetLocks,
          registry: BindingRegistry,
          publish: PublishVolume,
          unpublish: UnpublishVolume,
          mounter: VolumeMounter,
          reconciler: RotationReconciler,
          metrics: Metrics,
        ) =>
          new NodeVolumeService(settings.kubeletRoot, locks, registry, publish, unpublish, mounter, reconciler, metrics),
        [TargetLocks, BindingRegistry, PublishVolume, UnpublishVolume, VolumeMounter, RotationReconciler, Metrics],
      )
      .inSingletonScope();
  });
}
