import { ConsoleLogger } from '../../adapters/console-log/console-logger.js';
import { SystemClock } from '../../adapters/clock/system-clock.js';
import { PrometheusRestarterMetrics } from '../../adapters/prometheus/prometheus-restarter-metrics.js';
import { buildInfo } from '../build-info.js';
import type { CliIo } from '../cli-io.js';
import { parseFlags, usage } from '../flags.js';
import { kubernetesRestarterCachesSynced, kubernetesRestarterModule } from '../modules/kubernetes-restarter.module.js';
import { apiCredentialsFromFlag } from '../kubeconfig-flag.js';
import { startObservabilityEndpoints } from '../observability.js';
import { RESTARTER_FLAGS, restarterConfig } from '../restarter-config.js';
import { startRestarter, type Restarter } from '../restarter.js';

const SUMMARY = `Restarts workloads that opt in (annotation secrets-store.csi.k8s.io/restart-on-rotation: "true", "mount"
or "secret") when a rotation changes what their pods mounted or the synced Secrets they read, by setting the pod
template annotation secrets-store.csi.k8s.io/restarted-for, as kubectl rollout restart would. One replica acts
(leader election over a Lease).`;

/** `secrets-store-csi restarter [flags]`: runs until SIGTERM/SIGINT. */
export async function runRestarterCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(RESTARTER_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('restarter', SUMMARY, RESTARTER_FLAGS)}\n`);
    return 0;
  }
  if (values['version']) {
    io.out(`${JSON.stringify(buildInfo(io.env))}\n`);
    return 0;
  }
  const config = restarterConfig(values);
  const clock = new SystemClock();
  const logger = new ConsoleLogger({ json: config.logFormatJson, verbosity: config.verbosity, write: (line) => io.err(`${line}\n`), now: () => new Date() });
  const credentials = await apiCredentialsFromFlag(config.kubeconfig, io.env);
  const userAgent = `secrets-store-csi/${buildInfo(io.env).version}`;
  const metrics = new PrometheusRestarterMetrics();
  let restarter: Restarter | undefined;
  const endpoints = await startObservabilityEndpoints({
    metricsAddr: config.metricsAddr,
    healthAddr: config.healthAddr,
    metrics,
    readiness: { checks: [{ name: 'caches', check: () => restarter?.cachesLoaded() === true }] },
    logger,
  });
  try {
    restarter = startRestarter(
      { restart: config.restart, leaderElection: config.leaderElection, leaderElect: config.leaderElection.enabled },
      { clock, logger, metrics },
      { cluster: kubernetesRestarterModule({ credentials, userAgent, leaseNamespace: config.leaderElection.namespace }), whenSynced: kubernetesRestarterCachesSynced },
    );
    await io.stopRequested;
    logger.info('stopping');
    await restarter.stop();
  } finally {
    await endpoints.stop();
  }
  return 0;
}
