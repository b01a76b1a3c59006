import type { ContainerModule } from 'inversify';
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
import { kubeConfigFromFlag } from '../kubeconfig-flag.js';
import { chooseMountMode, nodeFilesModule, type MountMode } from '../modules/files.module.js';
import { kubernetesCachesSynced, kubernetesModule, warnAboutPrunedStatusFields } from '../modules/kubernetes.module.js';
import { grpcProviderModule } from '../modules/provider.module.js';
import { nodeAgentReadiness, startNodeAgent, type NodeAgent } from '../node-agent.js';
import { startObservabilityEndpoints, startProfilingEndpoint, type Readiness } from '../observability.js';
import { startMemoryCluster, type MemoryClusterProfile } from './memory-cluster-profile.js';

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
  const memory = config.cluster === 'memory' ? await startMemoryCluster(config, clock, logger) : undefined;
  try {
    const cluster = memory?.module ?? kubernetesModule({ kubeConfig: kubeConfigFromFlag(config.kubeconfig, io.env), nodeName: config.nodeId, driverName: config.driverName });
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

interface Wiring {
  readonly clock: SystemClock;
  readonly logger: Logger;
  readonly cluster: ContainerModule;
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
          cluster,
          files: nodeFilesModule(mountMode, config.kubeletRoot),
          provider: grpcProviderModule(config),
          ...(memory ? {} : { whenSynced: kubernetesCachesSynced }),
        },
        buildInfo(io.env).version,
      );
      if (!memory) void warnAboutPrunedStatusFields(agent.container, logger);
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
