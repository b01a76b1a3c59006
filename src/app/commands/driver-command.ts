import type { ContainerModule } from 'inversify';
import { ConsoleLogger } from '../../adapters/console-log/console-logger.js';
import { SystemClock } from '../../adapters/clock/system-clock.js';
import { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { watchManifests } from '../../adapters/memory-cluster/manifest-watcher.js';
import { ManifestApplier, type ApplyResult } from '../../adapters/memory-cluster/manifests.js';
import { StateFileWriter } from '../../adapters/memory-cluster/state-file.js';
import { readMemoryLimits } from '../../adapters/process-memory/memory-limits.js';
import { V8MemoryReclaimer } from '../../adapters/process-memory/v8-memory-reclaimer.js';
import { PrometheusMetrics } from '../../adapters/prometheus/prometheus-metrics.js';
import { defaultPayloadMemoryBudget } from '../../domain/payload-memory.js';
import type { Logger } from '../../ports/logger.js';
import { buildInfo } from '../build-info.js';
import type { CliIo } from '../cli-io.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../config.js';
import { parseFlags, usage } from '../flags.js';
import { kubernetesCachesSynced, kubernetesModule, loadKubeConfig, warnAboutPrunedStatusFields } from '../modules/kubernetes.module.js';
import { chooseMountMode, nodeFilesModule } from '../modules/files.module.js';
import { memoryClusterModule } from '../modules/memory-cluster.module.js';
import { grpcProviderModule } from '../modules/provider.module.js';
import { nodeAgentReadiness, startNodeAgent, type NodeAgent } from '../node-agent.js';
import { startObservabilityEndpoints } from '../observability.js';

const SUMMARY = 'The node agent: serves kubelet on the CSI socket, mounts secrets from providers and rotates them.';

/** `secrets-store-csi driver [flags]`: runs until SIGTERM/SIGINT. */
export async function runDriverCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(DRIVER_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('driver', SUMMARY, DRIVER_FLAGS)}\n`);
    return 0;
  }
  if (values['version']) {
    io.out(`${JSON.stringify(buildInfo(io.env))}\n`);
    return 0;
  }
  const clock = new SystemClock();
  const flags = driverConfig(values);
  const logger = new ConsoleLogger({ json: flags.logFormatJson, verbosity: flags.verbosity, write: (line) => io.err(`${line}\n`), now: () => new Date() });
  const config = await withPayloadMemoryBudget(flags, logger);
  const memory = config.cluster === 'memory' ? await startMemoryCluster(config, clock, logger) : undefined;
  const cluster = memory?.module ?? kubernetesModule({ kubeConfig: loadKubeConfig(config.kubeconfig, io.env), nodeName: config.nodeId, driverName: config.driverName });
  // Only the local profile may fall back to plain directories; on a node, secrets stay off the disk.
  const mountMode = await chooseMountMode(config.cluster === 'memory', logger);
  const metrics = new PrometheusMetrics();
  let agent: NodeAgent | undefined;
  const endpoints = await startObservabilityEndpoints({
    metricsAddr: config.metricsAddr,
    healthAddr: config.healthAddr,
    metrics,
    readiness: nodeAgentReadiness(() => agent),
    logger,
  });
  try {
    agent = await startNodeAgent(
      config,
      { clock, logger, metrics, memory: new V8MemoryReclaimer() },
      {
        cluster,
        files: nodeFilesModule(mountMode, config.kubeletRoot),
        provider: grpcProviderModule(config),
        ...(memory ? {} : { whenSynced: kubernetesCachesSynced }),
      },
      buildInfo(io.env).version,
    );
    if (!memory) void warnAboutPrunedStatusFields(agent.container, logger);
    await io.stopRequested;
    logger.info('stopping');
    await agent.stop();
    await memory?.stop();
  } finally {
    await endpoints.stop();
  }
  return 0;
}

/** The config with `--payload-memory-budget` resolved: as given, or derived from this process's memory limits. */
async function withPayloadMemoryBudget(config: DriverConfig, logger: Logger): Promise<DriverConfig> {
  if (config.payloadMemoryBudget > 0) {
    logger.info('payload memory budget', { bytes: config.payloadMemoryBudget, from: '--payload-memory-budget' });
    return config;
  }
  const derived = defaultPayloadMemoryBudget(await readMemoryLimits(), config.maxCallRecvMsgSize);
  logger.info('payload memory budget', { bytes: derived.bytes, from: derived.derivation });
  return Object.freeze({ ...config, payloadMemoryBudget: derived.bytes });
}

/** `--cluster memory`: an in-memory cluster loaded from (and following) the manifests, optionally mirrored to a state file. */
async function startMemoryCluster(
  config: DriverConfig,
  clock: SystemClock,
  logger: Logger,
): Promise<{ module: ContainerModule; stop(): Promise<void> }> {
  const cluster = new InMemoryCluster({ clock });
  const manifests = await loadManifests(cluster, config, logger);
  const stateFile = config.stateFile ? new StateFileWriter(cluster, config.stateFile) : undefined;
  stateFile?.start();
  return {
    module: memoryClusterModule(cluster),
    async stop() {
      await manifests.stop();
      await stateFile?.stop();
    },
  };
}

async function loadManifests(cluster: InMemoryCluster, config: DriverConfig, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const applier = new ManifestApplier(cluster, config.manifests);
  const report = (result: ApplyResult): void => {
    for (const error of result.errors) logger.error('manifest not applied', { error: error.message });
    const changed = result.created.length + result.updated.length + result.deleted.length;
    if (changed > 0) logger.info('manifests applied', { created: result.created, updated: result.updated, deleted: result.deleted });
  };
  report(await applier.apply());
  const stop = watchManifests(applier, { onApplied: report, onError: (error) => logger.error('watching manifests failed', { error }) });
  return { stop };
}
