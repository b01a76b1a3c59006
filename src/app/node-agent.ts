import { lstatSync } from 'node:fs';
import { Container, type ContainerModule } from 'inversify';
import { startCsiServer, type CsiServer } from '../adapters/csi-grpc/csi-server.js';
import { ProviderHealthCheck, type ProviderHealth } from '../application/provider-health-check.js';
import { RecoverBindings, type RecoveryReport } from '../application/recover-bindings.js';
import { RotationReconciler } from '../application/rotation-reconciler.js';
import type { Logger } from '../ports/logger.js';
import { NodeVolumes } from '../ports/node-volumes.js';
import type { DriverConfig } from './config.js';
import type { Readiness } from './observability.js';
import { applicationModule } from './modules/application.module.js';
import { runtimeModule, type Runtime } from './modules/runtime.module.js';

/** The adapter modules that make a profile: where classes live, where files go, how providers are reached. */
export interface Profile {
  readonly cluster: ContainerModule;
  readonly files: ContainerModule;
  readonly provider: ContainerModule;
  /** Resolves once the cluster caches hold their first list (readiness); absent when there is nothing to wait for. */
  readonly whenSynced?: (container: Container) => Promise<void>;
}

/** The conditions `/readyz` reports. */
export interface NodeAgentReadiness {
  /** The CSI server is bound and its socket file is in place (kubelet can reach it). */
  readonly csiSocket: boolean;
  /** The cluster caches have loaded (classes and pods are answered locally). */
  readonly clusterCaches: boolean;
  /** With `--provider-health-check`: each provider's last check (reported, not required for readiness). */
  readonly providers: ReadonlyMap<string, ProviderHealth>;
}

/**
 * The node agent's `/readyz`: its checks, each failing while `agent()` is undefined (not started yet); with
 * `--provider-health-check`, one line per provider. Reported, not required: the driver's readiness gates its
 * own rolling update, and one provider's outage must neither stall that nor hide that the driver serves
 * every other provider's mounts (`provider_healthy` is what to alert on).
 */
export function nodeAgentReadiness(agent: () => NodeAgent | undefined): Readiness {
  return {
    checks: [
      { name: 'csi-socket', check: () => agent()?.readiness().csiSocket === true },
      { name: 'cluster-caches', check: () => agent()?.readiness().clusterCaches === true },
    ],
    reports: () =>
      [...(agent()?.readiness().providers ?? new Map<string, ProviderHealth>())].map(([name, health]) => ({
        name: `provider-${name}`,
        ok: health.healthy,
        ...(health.reason ? { reason: health.reason } : {}),
      })),
  };
}

export interface NodeAgent {
  readonly container: Container;
  readonly reconciler: RotationReconciler;
  readonly csi: CsiServer;
  /** Restart recovery, run once the cluster caches are synced; undefined when it failed (logged). */
  readonly recovery: Promise<RecoveryReport | undefined>;
  readiness(): NodeAgentReadiness;
  stop(): Promise<void>;
}

/** Builds the container for a profile and serves kubelet: the CSI socket plus the rotation loop. */
export async function startNodeAgent(config: DriverConfig, runtime: Runtime, profile: Profile, version: string): Promise<NodeAgent> {
  const container = new Container();
  container.load(
    runtimeModule(runtime),
    profile.cluster,
    profile.files,
    profile.provider,
    applicationModule({
      nodeName: config.nodeId,
      kubeletRoot: config.kubeletRoot,
      rotation: config.rotation,
      providerHealthCheckIntervalMs: config.providerHealthCheckIntervalMs,
      ...(config.payloadMemoryBudget > 0 ? { payloadMemory: { budgetBytes: config.payloadMemoryBudget, maxAnswerBytes: config.maxCallRecvMsgSize } } : {}),
    }),
  );
  const reconciler = container.get(RotationReconciler);
  let synced = profile.whenSynced === undefined;
  const cachesSynced = profile.whenSynced?.(container) ?? Promise.resolve();
  void cachesSynced.then(
    () => (synced = true),
    (error: unknown) => runtime.logger.error('waiting for the cluster caches failed', { error }),
  );
  const csi = await startCsiServer({
    endpoint: config.endpoint,
    driverName: config.driverName,
    version,
    nodeId: config.nodeId,
    volumes: container.get<NodeVolumes>(NodeVolumes),
    logger: runtime.logger,
    metrics: runtime.metrics,
  });
  reconciler.start();
  const healthCheck = config.providerHealthCheck ? container.get(ProviderHealthCheck) : undefined;
  healthCheck?.start();
  const recovery = recoverBindings(container, cachesSynced, runtime.logger);
  let serving = true;
  runtime.logger.info('driver started', {
    endpoint: config.endpoint,
    node: config.nodeId,
    rotation: config.rotation.enabled ? `every ${config.rotation.intervalMs / 1000}s` : 'disabled',
  });
  return {
    container,
    reconciler,
    csi,
    recovery,
    readiness: () => ({ csiSocket: serving && isSocket(csi.address), clusterCaches: synced, providers: healthCheck?.current() ?? new Map() }),
    async stop() {
      serving = false;
      await healthCheck?.stop();
      await csi.stop();
      await reconciler.stop();
      await container.unbindAll();
    },
  };
}

/**
 * Rebuilds the bindings a previous run of the driver left mounted, once pods and classes can be read.
 * Run whether rotation is on or not: a known binding also serves republishes and reports orphans. A
 * failure is logged and leaves the mounts to kubelet's next publish.
 */
async function recoverBindings(container: Container, cachesSynced: Promise<void>, logger: Logger): Promise<RecoveryReport | undefined> {
  try {
    await cachesSynced;
  } catch {
    return undefined; // logged where readiness learns of it
  }
  try {
    return await container.get(RecoverBindings).execute();
  } catch (error) {
    logger.error('restart recovery failed; mounts resume rotation when kubelet publishes them again', { error });
    return undefined;
  }
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}
