import { startHttpEndpoints, type HttpEndpoints, type HttpRoute } from '../adapters/http-endpoints/http-endpoints.js';
import { parseListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { healthzRoute, metricsRoute, readyzRoute, type MetricsExposition, type ReadinessCheck, type ReadinessReport } from '../adapters/http-endpoints/routes.js';
import type { Logger } from '../ports/logger.js';

export interface ObservabilityOptions {
  /** `--metrics-addr`: serves `/metrics`. */
  readonly metricsAddr: string;
  /** `--health-addr`: serves `/healthz` and `/readyz` (the same server as metrics when the addresses are equal). */
  readonly healthAddr: string;
  readonly metrics: MetricsExposition;
  /** What `/readyz` checks (each fails until the process it asks about has started) and reports. */
  readonly readiness: Readiness;
  readonly logger: Logger;
}

export interface Readiness {
  /** Required for readiness. */
  readonly checks: readonly ReadinessCheck[];
  /** Listed in `/readyz`, not required. */
  readonly reports?: () => readonly ReadinessReport[];
}

export interface ObservabilityEndpoints {
  readonly metrics: HttpEndpoints;
  readonly health: HttpEndpoints;
  stop(): Promise<void>;
}

/**
 * The operational HTTP endpoints of a process (the node agent, the restarter). Started before the work
 * begins, so a taken port fails the start early, and `/readyz` answers 503 until the process is ready.
 */
export async function startObservabilityEndpoints(options: ObservabilityOptions): Promise<ObservabilityEndpoints> {
  const metricsRoutes: Record<string, HttpRoute> = { '/metrics': metricsRoute(options.metrics) };
  const healthRoutes: Record<string, HttpRoute> = { '/healthz': healthzRoute(), '/readyz': readyzRoute(options.readiness.checks, options.readiness.reports) };
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
