import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * How often `nodejs_eventloop_lag_*` samples the event loop's delay. prom-client's 10 ms wakes an idle
 * node agent 100 times a second (about 2 ms of CPU a second on every node, for nothing else); once a
 * second still gives a scrape interval's worth of samples.
 */
const EVENT_LOOP_SAMPLE_MS = 1000;

export interface PrometheusExpositionOptions {
  /** Add the process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
}

/**
 * A process's metrics in the Prometheus text format from a registry of its own (nothing goes to
 * prom-client's global default registry, so two instances never collide).
 */
export abstract class PrometheusExposition {
  readonly registry = new Registry();

  /** Called last by a subclass's constructor, so that its own metrics come first in the exposition. */
  protected addProcessMetrics(options: PrometheusExpositionOptions): void {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** The Prometheus text exposition of every metric (what `/metrics` serves). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `scrape()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
