import type { Container, ContainerModule } from 'inversify';
import type { ReadinessCheck } from '../../adapters/http-endpoints/routes.js';
import { SystemClock } from '../../adapters/clock/system-clock.js';
import { ConsoleLogger } from '../../adapters/console-log/console-logger.js';
import { readMemoryLimits } from '../../adapters/process-memory/memory-limits.js';
import { V8MemoryReclaimer } from '../../adapters/process-memory/v8-memory-reclaimer.js';
import { PrometheusMetrics } from '../../adapters/prometheus/prometheus-metrics.js';
import { defaultPayloadMemoryBudget } from '../../domain/payload-memory.js';
import type { Logger } from '../../ports/logger.js';
import { buildInfo } from '../build-info.js';
import type { CliIo } from '../cli-io.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../config.js';
import { ignoredFlagWarnings, parseFlags, usage } from '../flags.js';
import { apiCredentialsFromFlag } from '../kubeconfig-flag.js';
import { chooseMountMode, nodeFilesModule, type MountMode } from '../modules/files.module.js';
import { grpcProviderModule } from '../modules/provider.module.js';
import { nodeAgentReadiness, startNodeAgent, type NodeAgent } from '../node-agent.js';
import { startObservabilityEndpoints, startProfilingEndpoint, type Readiness } from '../observability.js';
import type { MemoryClusterProfile } from './memory-cluster-profile.js';

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
  const flags = driverConfig(values);
  const clock = new SystemClock();
  const logger = new ConsoleLogger({ json: flags.logFormatJson, verbosity: flags.verbosity, write: (line) => io.err(`${line}\n`), now: () => new Date() });
  for (const warning of ignoredFlagWarnings(DRIVER_FLAGS, values)) logger.warn(warning);
  const config = await withPayloadMemoryBudget(flags, logger);
  // What a flag names on disk (manifests, kubeconfig) is read here, so a bad value exits 2 before any listener starts.
  // Each profile loads only its own adapters: a node agent never holds the in-memory cluster or its YAML tooling.
  const memory = config.cluster === 'memory' ? await (await import('./memory-cluster-profile.js')).startMemoryCluster(config, clock, logger) : undefined;
  try {
    const cluster = memory ? { module: memory.module } : await kubernetesProfile(config, io);
    // Only the local profile may fall back to plain directories; on a node, secrets stay off the disk.
    const mountMode = await chooseMountMode(config.cluster === 'memory', logger);
    await serve(config, { clock, logger, cluster, mountMode, memory }, io);
  } finally {
    await memory?.stop();
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

/** The cluster side of the node agent: its ports, and for a real API server the caches to wait for and the CRD check. */
interface ClusterProfile {
  readonly module: ContainerModule;
  readonly whenSynced?: (container: Container) => Promise<void>;
  readonly started?: (container: Container, logger: Logger) => void;
}

/**
 * `--cluster kubernetes`: the API server from the kubeconfig (or in-cluster), its caches synced before
 * the driver is ready, and the check of the cluster's pod status CRD once it runs.
 */
async function kubernetesProfile(config: DriverConfig, io: CliIo): Promise<ClusterProfile> {
  const credentials = await apiCredentialsFromFlag(config.kubeconfig, io.env);
  const { kubernetesCachesSynced, kubernetesModule, warnAboutPrunedStatusFields } = await import('../modules/kubernetes.module.js');
  return {
    module: kubernetesModule({ credentials, userAgent: driverUserAgent(io.env), nodeName: config.nodeId, driverName: config.driverName }),
    whenSynced: kubernetesCachesSynced,
    started: (container, logger) => void warnAboutPrunedStatusFields(container, logger),
  };
}

interface Wiring {
  readonly clock: SystemClock;
  readonly logger: Logger;
  readonly cluster: ClusterProfile;
  readonly mountMode: MountMode;
  readonly memory: MemoryClusterProfile | undefined;
}

/** Starts the listeners (endpoints, profiling, CSI socket) and serves until asked to stop. */
async function serve(config: DriverConfig, { clock, logger, cluster, mountMode, memory }: Wiring, io: CliIo): Promise<void> {
  const metrics = new PrometheusMetrics();
  let agent: NodeAgent | undefined;
  const endpoints = await startObservabilityEndpoints({
    metricsAddr: config.metricsAddr,
    healthAddr: config.healthAddr,
    metrics,
    readiness: withChecks(nodeAgentReadiness(() => agent), memory?.readinessChecks ?? []),
    logger,
  });
  try {
    const profiling = config.pprofPort === undefined ? undefined : await startProfilingEndpoint(config.pprofPort, logger);
    try {
      agent = await startNodeAgent(
        config,
        { clock, logger, metrics, memory: new V8MemoryReclaimer() },
        {
          cluster: cluster.module,
          files: nodeFilesModule(mountMode, config.kubeletRoot),
          provider: grpcProviderModule({ ...config, userAgent: driverUserAgent(io.env) }),
          ...(cluster.whenSynced ? { whenSynced: cluster.whenSynced } : {}),
        },
        buildInfo(io.env).version,
      );
      cluster.started?.(agent.container, logger);
      const stopKubelet = memory && config.builtinKubelet ? memory.startKubelet(agent.csi.address, agent.recovery) : undefined;
      await io.stopRequested;
      logger.info('stopping');
      await stopKubelet?.();
      await agent.stop();
    } finally {
      await profiling?.stop();
    }
  } finally {
    await endpoints.stop();
  }
}

/** The node agent's readiness and the profile's own conditions (the memory cluster's state file). */
function withChecks(readiness: Readiness, more: readonly ReadinessCheck[]): Readiness {
  return { ...readiness, checks: [...readiness.checks, ...more] };
}

/** How the node agent names itself to the API server and to providers. */
function driverUserAgent(env: CliIo['env']): string {
  return `secrets-store-csi/${buildInfo(env).version}`;
}
