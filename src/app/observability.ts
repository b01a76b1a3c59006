import { startHttpEndpoints, text, type HttpEndpoints, type HttpRoute } from '../adapters/http-endpoints/http-endpoints.js';
import { parseListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { healthzRoute, metricsRoute, readyzRoute, type MetricsExposition, type ReadinessCheck, type ReadinessReport } from '../adapters/http-endpoints/routes.js';
import { InspectorProfiler, ProfilerBusy } from '../adapters/profiling/inspector-profiler.js';
import type { Logger } from '../ports/logger.js';

export interface ObservabilityOptions {
  /** `--metrics-addr`: serves `/metrics`; `0` serves none (as the upstream driver's controller-runtime). */
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
  /** Undefined with `--metrics-addr=0`. */
  readonly metrics: HttpEndpoints | undefined;
  readonly health: HttpEndpoints;
  stop(): Promise<void>;
}

/** `--metrics-addr` value that turns the metrics endpoint off. */
const METRICS_OFF = '0';

/**
 * The operational HTTP endpoints of a process (the node agent, the restarter). Started before the work
 * begins, so a taken port fails the start early, and `/readyz` answers 503 until the process is ready.
 */
export async function startObservabilityEndpoints(options: ObservabilityOptions): Promise<ObservabilityEndpoints> {
  const metricsRoutes: Record<string, HttpRoute> = { '/metrics': metricsRoute(options.metrics) };
  const healthRoutes: Record<string, HttpRoute> = { '/healthz': healthzRoute(), '/readyz': readyzRoute(options.readiness.checks, options.readiness.reports) };
  const { logger } = options;
  if (options.metricsAddr === METRICS_OFF) {
    const health = await startHttpEndpoints({ name: 'health', address: parseListenAddress(options.healthAddr), routes: healthRoutes, logger });
    return { metrics: undefined, health, stop: () => health.stop() };
  }
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

/** Go's pprof default for `/debug/pprof/profile`, and the longest profile served. */
const DEFAULT_PROFILE_SECONDS = 30;
const MAX_PROFILE_SECONDS = 600;

/**
 * `--enable-pprof`: the Node equivalents of Go's net/http/pprof on 127.0.0.1:<port> (the upstream driver
 * listens on every interface; a heap snapshot holds the mounted secrets, so here only the pod itself, or
 * `kubectl port-forward`, reaches it). `GET /debug/pprof/profile?seconds=N` is a V8 CPU profile,
 * `GET /debug/pprof/heap` a V8 heap snapshot.
 */
export async function startProfilingEndpoint(port: number, logger: Logger): Promise<HttpEndpoints> {
  const profiler = new InspectorProfiler();
  const stopping = new AbortController();
  const routes: Record<string, HttpRoute> = {
    '/debug/pprof/': () =>
      text(200, '/debug/pprof/profile?seconds=N  CPU profile over N seconds (default 30), .cpuprofile JSON\n/debug/pprof/heap  heap snapshot, .heapsnapshot JSON\n'),
    '/debug/pprof/profile': async (query) => {
      const seconds = Number(query.get('seconds') ?? DEFAULT_PROFILE_SECONDS);
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PROFILE_SECONDS) {
        return text(400, `seconds must be a whole number from 1 to ${MAX_PROFILE_SECONDS}\n`);
      }
      try {
        return { status: 200, contentType: 'application/json', body: await profiler.cpuProfile(seconds * 1000, stopping.signal) };
      } catch (error) {
        if (error instanceof ProfilerBusy) return text(409, `${error.message}\n`);
        throw error;
      }
    },
    '/debug/pprof/heap': async () => ({ status: 200, contentType: 'application/json', body: await profiler.heapSnapshot() }),
  };
  let endpoints: HttpEndpoints;
  try {
    endpoints = await startHttpEndpoints({ name: 'pprof', address: { host: '127.0.0.1', port }, routes, logger });
  } catch (error) {
    profiler.close();
    throw error;
  }
  return {
    port: endpoints.port,
    address: endpoints.address,
    async stop(graceMs) {
      stopping.abort();
      await endpoints.stop(graceMs);
      profiler.close();
    },
  };
}
