import { startHttpEndpoints, type HttpEndpoints, type HttpRoute } from '../adapters/http-endpoints/http-endpoints.js';
import { parseListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { healthzRoute, metricsRoute, readyzRoute, type MetricsExposition, type ReadinessCheck, type ReadinessReport } from '../adapters/http-endpoints/routes.js';
import type { Logger } from '../ports/logger.js';
import type { NodeAgentReadiness } from './node-agent.js';

export interface ObservabilityOptions {
  /** `--metrics-addr`: serves `/metrics`. */
  readonly metricsAddr: string;
  /** `--health-addr`: serves `/healthz` and `/readyz` (the same server as metrics when the addresses are equal). */
  readonly healthAddr: string;
  readonly metrics: MetricsExposition;
  /** The node agent's readiness; undefined (not ready) until the agent has started. */
  readonly readiness: () => NodeAgentReadiness | undefined;
  readonly logger: Logger;
}

export interface ObservabilityEndpoints {
  readonly metrics: HttpEndpoints;
  readonly health: HttpEndpoints;
  stop(): Promise<void>;
}

/**
 * The operational HTTP endpoints of the driver process. Started before the node agent, so a taken port
 * fails the start before kubelet is served, and `/readyz` answers 503 until the agent is ready.
 */
export async function startObservabilityEndpoints(options: ObservabilityOptions): Promise<ObservabilityEndpoints> {
  const metricsRoutes: Record<string, HttpRoute> = { '/metrics': metricsRoute(options.metrics) };
  const healthRoutes: Record<string, HttpRoute> = { '/healthz': healthzRoute(), '/readyz': readyzRoute(readinessChecks(options.readiness), () => providerReports(options.readiness)) };
  const { logger } = options;
  // One address for both: one server (two would collide). Port 0 asks for two different free ports.
  if (options.metricsAddr === options.healthAddr && parseListenAddress(options.metricsAddr).port !== 0) {
    const shared = await startHttpEndpoints({ name: 'metrics and health', address: parseListenAddress(options.metricsAddr), routes: { ...metricsRoutes, ...healthRoutes }, logger });
    return { metrics: shared, health: shared, stop: () => shared.stop() };
  }
  const metrics = await startHttpEndpoints({ name: 'metrics', address: parseListenAddress(options.metricsAddr), routes: metricsRoutes, logger });
  try {
    const health = await startHttpEndpoints({ name: 'health', address: parseListenAddress(options.healthAddr), routes: healthRoutes, logger });
    return { metrics, health, stop: async () => void (await Promise.all([metrics.stop(), health.stop()])) };
  } catch (error) {
    await metrics.stop();
    throw error;
  }
}

function readinessChecks(readiness: () => NodeAgentReadiness | undefined): ReadinessCheck[] {
  return [
    { name: 'csi-socket', check: () => readiness()?.csiSocket === true },
    { name: 'cluster-caches', check: () => readiness()?.clusterCaches === true },
  ];
}

/**
 * With `--provider-health-check`, one line per provider. Reported, not required: the driver's readiness
 * gates its own rolling update, and one provider's outage must neither stall that nor hide that the
 * driver serves every other provider's mounts (`provider_healthy` is what to alert on).
 */
function providerReports(readiness: () => NodeAgentReadiness | undefined): ReadinessReport[] {
  const providers = readiness()?.providers ?? new Map();
  return [...providers].map(([name, health]) => ({ name: `provider-${name}`, ok: health.healthy, ...(health.reason ? { reason: health.reason } : {}) }));
}
