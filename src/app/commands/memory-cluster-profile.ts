import type { ContainerModule } from 'inversify';
import type { ReadinessCheck } from '../../adapters/http-endpoints/routes.js';
import { KubeletCsiClient } from '../../adapters/fake-kubelet/csi-node-client.js';
import { removePodDirs, removeVolumeDir, volumeId } from '../../adapters/fake-kubelet/kubelet-volume.js';
import { PodWatchingKubelet } from '../../adapters/fake-kubelet/pod-watching-kubelet.js';
import { DEPLOYED_CSI_DRIVER } from '../../adapters/kube-objects/pod-feed.js';
import { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { watchManifests } from '../../adapters/memory-cluster/manifest-watcher.js';
import { ManifestApplier, type ApplyResult } from '../../adapters/memory-cluster/manifests.js';
import { MemoryPodFeed } from '../../adapters/memory-cluster/memory-pod-feed.js';
import { restoreClusterState, StateFileError, StateFileWriter } from '../../adapters/memory-cluster/state-file.js';
import type { RecoveredTarget, RecoveryReport } from '../../application/recover-bindings.js';
import { podStatusName } from '../../domain/pod-status.js';
import { parseTargetPath } from '../../domain/target-path.js';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { DriverConfig } from '../config.js';
import { UsageError } from '../flags.js';
import { memoryClusterModule } from '../modules/memory-cluster.module.js';

/** `--cluster memory`: the in-memory cluster, what feeds it and what mirrors it. */
export interface MemoryClusterProfile {
  readonly cluster: InMemoryCluster;
  readonly module: ContainerModule;
  /** `state-file`: failed, with the reason, while the state file cannot be written. */
  readonly readinessChecks: readonly ReadinessCheck[];
  /**
   * `--builtin-kubelet`: starts a kubelet for the manifests' Pods bound to `--nodeid`, calling the driver on
   * its CSI socket (once it serves), and once restart recovery is done unpublishes the volumes of Pods
   * gone meanwhile; the returned function stops it (not a cleanup under way) and leaves its volumes mounted.
   */
  startKubelet(socketPath: string, recovery: Promise<RecoveryReport | undefined>): () => Promise<void>;
  stop(): Promise<void>;
}

/**
 * Loads the manifests (a missing or invalid one is a bad `--manifests` value: UsageError), takes back the
 * pod statuses, Secrets and Events of the state file an earlier run wrote (for restart recovery), writes
 * the state file, then follows manifest edits.
 */
export async function startMemoryCluster(config: DriverConfig, clock: Clock, logger: Logger): Promise<MemoryClusterProfile> {
  const cluster = new InMemoryCluster({ clock });
  const applier = new ManifestApplier(cluster, config.manifests);
  const first = await applier.apply();
  if (first.errors.length > 0) {
    throw new UsageError(`invalid value "${config.manifests.join(',')}" for flag "--manifests": ${first.errors.map((error) => error.message).join('; ')}`);
  }
  reportApplied(first, logger);
  const stateFile = config.stateFile === '' ? undefined : openStateFile(cluster, config.stateFile, logger);
  const stopWatching = watchManifests(applier, {
    onApplied: (result) => {
      for (const error of result.errors) logger.error('manifest not applied; the objects it defined before stay as they were', { error: error.message });
      reportApplied(result, logger);
    },
    onError: (error) => logger.error('watching manifests failed', { error }),
  });
  return {
    cluster,
    module: memoryClusterModule(cluster),
    readinessChecks: stateFile ? [{ name: 'state-file', check: () => stateFile.failure ?? true }] : [],
    startKubelet: (socketPath, recovery) => startBuiltinKubelet({ cluster, config, clock, logger, socketPath, recovery }),
    async stop() {
      await stopWatching();
      await stateFile?.stop();
    },
  };
}

function reportApplied(result: ApplyResult, logger: Logger): void {
  if (result.created.length + result.updated.length + result.deleted.length === 0) return;
  logger.info('manifests applied', { created: result.created, updated: result.updated, deleted: result.deleted });
}

function openStateFile(cluster: InMemoryCluster, path: string, logger: Logger): StateFileWriter {
  try {
    const restored = restoreClusterState(cluster, path);
    if (restored > 0) logger.info('state file read back', { path, objects: restored });
  } catch (error) {
    if (error instanceof StateFileError) throw new UsageError(`invalid value "${path}" for flag "--state-file": ${error.message}`);
    throw error;
  }
  const writer = new StateFileWriter(cluster, path, {
    onFailure: (error) => logger.error('writing the state file failed; it keeps its last content and /readyz reports not ready until a write succeeds', { path, error: error.message }),
    onRecovered: () => logger.info('state file written again', { path }),
  });
  writer.start();
  return writer;
}

interface BuiltinKubeletWiring {
  readonly cluster: InMemoryCluster;
  readonly config: DriverConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly socketPath: string;
  readonly recovery: Promise<RecoveryReport | undefined>;
}

/**
 * kubelet's part for the manifests' Pods of this node: each inline volume of the driver that a container
 * mounts is published as kubelet v1.34 would (the CSIDriver as deploy/csidriver.yaml has it), republished
 * on kubelet's pod syncs and unpublished when its Pod leaves the manifests; failures are kubelet's
 * FailedMount events. Volumes of Pods that went while the driver was down are unpublished once restart
 * recovery has named them, as kubelet's cleanup of orphaned pod volumes does.
 */
function startBuiltinKubelet({ cluster, config, clock, logger, socketPath, recovery }: BuiltinKubeletWiring): () => Promise<void> {
  const volumes = new KubeletCsiClient(socketPath);
  const kubelet = new PodWatchingKubelet({
    feed: new MemoryPodFeed({ cluster, nodeName: config.nodeId, clock, csiDrivers: { [config.driverName]: DEPLOYED_CSI_DRIVER }, logger }),
    volumes,
    kubeletRoot: config.kubeletRoot,
    driverName: config.driverName,
    logger,
  });
  kubelet.start();
  logger.info('built-in kubelet started', { node: config.nodeId });
  void recovery.then((report) => unpublishOrphans(report?.orphaned ?? [], { cluster, volumes, kubeletRoot: config.kubeletRoot, logger }));
  return () => kubelet.stop();
}

interface OrphanCleanup {
  readonly cluster: InMemoryCluster;
  readonly volumes: KubeletCsiClient;
  readonly kubeletRoot: string;
  readonly logger: Logger;
}

/**
 * What kubelet and the garbage collector do for a pod that went while nobody watched: kubelet unpublishes
 * its volumes and removes their directories; the collector deletes the pod status objects the gone pod
 * owned (and with them the Secrets only they owned), which the in-memory cluster cannot know to do for a
 * pod it never held.
 */
async function unpublishOrphans(orphaned: readonly RecoveredTarget[], { cluster, volumes, kubeletRoot, logger }: OrphanCleanup): Promise<void> {
  for (const { target, pod, className } of orphaned) {
    try {
      const { podUid, volumeName } = parseTargetPath(target, kubeletRoot);
      await volumes.unpublish({ volumeId: volumeId(podUid, volumeName), targetPath: target });
      await removeVolumeDir(kubeletRoot, podUid, volumeName);
      await removePodDirs(kubeletRoot, podUid);
      deleteStatusOwnedBy(cluster, pod, className, podUid);
      logger.info('kubelet: unpublished the volume of a pod that is gone', { pod, target });
    } catch (error) {
      logger.warn('kubelet: could not unpublish the volume of a pod that is gone', { pod, target, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** Deletes the pod status of `<namespace>/<name>` and `className` if the pod with `podUid` owns it (a pod of that name may have replaced it). */
function deleteStatusOwnedBy(cluster: InMemoryCluster, pod: string, className: string, podUid: string): void {
  const [namespace = '', name = ''] = pod.split('/');
  const statusName = podStatusName(name, namespace, className);
  const status = cluster.get('SecretProviderClassPodStatus', namespace, statusName);
  if (status?.metadata.ownerReferences?.some((owner) => owner.kind === 'Pod' && owner.uid === podUid)) {
    cluster.delete('SecretProviderClassPodStatus', namespace, statusName);
  }
}
