import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorTypeLabel, providerLabel, providerResultLabel } from '../../domain/metric-labels.js';
import type { ContentAgeReader, Metrics, ProviderHealthReader } from '../../ports/metrics.js';

export interface PrometheusMetricsOptions {
  /** Add the process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
}

/** The upstream driver reports `runtime.GOOS`; this driver runs on Linux nodes only. */
const OS_TYPE = 'linux';

/** Histogram boundaries of the upstream driver's exporter (seconds), so dashboards keep their buckets. */
export const DURATION_BUCKETS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 15, 30];

/**
 * The driver's metrics in the Prometheus text format, named and labelled as the upstream driver's
 * OpenTelemetry exporter writes them (counters carry `_total`, histograms `_bucket`/`_sum`/`_count`).
 * Each instance owns its registry: nothing goes to prom-client's global default registry, so two
 * instances (tests) never collide. Label values pass the domain's bounds (metric-labels.ts), so a
 * provider's error codes or a class's provider name never add series beyond a fixed set.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly publishTotal: Counter<'provider' | 'os_type'>;
  private readonly publishErrorTotal: Counter<'provider' | 'error_type' | 'os_type'>;
  private readonly unpublishTotal: Counter<'os_type'>;
  private readonly unpublishErrorTotal: Counter<'os_type'>;
  private readonly rotationTotal: Counter<'provider' | 'os_type' | 'rotated'>;
  private readonly rotationErrorTotal: Counter<'provider' | 'error_type' | 'os_type' | 'rotated'>;
  private readonly rotationDuration: Histogram<'os_type'>;
  private readonly syncTotal: Counter<'provider' | 'os_type'>;
  private readonly syncDuration: Histogram<'os_type'>;
  private readonly providerRequestsTotal: Counter<'provider' | 'result' | 'os_type'>;
  private readonly rotationSkippedTotal: Counter<'reason' | 'os_type'>;
  private readContentAge: ContentAgeReader = () => new Map();
  private readProviderHealth: ProviderHealthReader = () => new Map();

  constructor(options: PrometheusMetricsOptions = {}) {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = (name: string, help: string): Histogram<'os_type'> =>
      new Histogram<'os_type'>({ name, help, labelNames: ['os_type'], buckets: [...DURATION_BUCKETS], registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], onScrape: (metric: Gauge<L>) => void): Gauge<L> =>
      new Gauge<L>({ name, help, labelNames, registers, collect() { onScrape(this); } });

    this.publishTotal = counter('node_publish_total', 'Total number of node publish calls', ['provider', 'os_type']);
    this.publishErrorTotal = counter('node_publish_error_total', 'Total number of node publish calls with error', ['provider', 'error_type', 'os_type']);
    this.unpublishTotal = counter('node_unpublish_total', 'Total number of node unpublish calls', ['os_type']);
    this.unpublishErrorTotal = counter('node_unpublish_error_total', 'Total number of node unpublish calls with error', ['os_type']);
    this.rotationTotal = counter('rotation_reconcile_total', 'Total number of rotation reconciles', ['provider', 'os_type', 'rotated']);
    this.rotationErrorTotal = counter('rotation_reconcile_error_total', 'Total number of rotation reconciles with error', [
      'provider',
      'error_type',
      'os_type',
      'rotated',
    ]);
    this.rotationDuration = histogram('rotation_reconcile_duration_sec', 'Distribution of how long it took to rotate secrets-store content for pods');
    this.syncTotal = counter('sync_k8s_secret_total', 'Total number of k8s secrets synced', ['provider', 'os_type']);
    this.syncDuration = histogram('sync_k8s_secret_duration_sec', 'Distribution of how long it took to sync k8s secret');
    this.providerRequestsTotal = counter('provider_requests_total', 'Total number of provider Mount calls made, by result', ['provider', 'result', 'os_type']);
    this.rotationSkippedTotal = counter('rotation_skipped_total', 'Total number of rotation checks that did not call the provider, by reason', ['reason', 'os_type']);
    gauge(
      'mounted_content_age_seconds',
      'Seconds since the provider last confirmed the oldest mounted content of each provider',
      ['provider', 'os_type'],
      (ages) => collectPerProvider(ages, () => [...this.readContentAge()].map(([provider, age]) => [provider, seconds(age)])),
    );
    gauge(
      'provider_healthy',
      'Whether the provider answered its last health check (Version call): 1 yes, 0 no; only with --provider-health-check',
      ['provider', 'os_type'],
      (health) => collectPerProvider(health, () => [...this.readProviderHealth()].map(([provider, healthy]) => [provider, healthy ? 1 : 0])),
    );

    // Series without a per-call label exist from the start (at zero), so rate() works before the first event.
    const linux = { os_type: OS_TYPE };
    this.unpublishTotal.labels(linux).inc(0);
    this.unpublishErrorTotal.labels(linux).inc(0);
    this.rotationDuration.zero(linux);
    this.syncDuration.zero(linux);

    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  nodePublish(provider: string): void {
    this.publishTotal.inc({ provider: providerLabel(provider), os_type: OS_TYPE });
  }

  nodePublishError(provider: string, errorType: string): void {
    this.publishErrorTotal.inc({ provider: providerLabel(provider), error_type: errorTypeLabel(errorType), os_type: OS_TYPE });
  }

  nodeUnpublish(): void {
    this.unpublishTotal.inc({ os_type: OS_TYPE });
  }

  nodeUnpublishError(): void {
    this.unpublishErrorTotal.inc({ os_type: OS_TYPE });
  }

  rotationReconcile(provider: string, rotated: boolean, durationSeconds: number): void {
    this.rotationTotal.inc({ provider: providerLabel(provider), os_type: OS_TYPE, rotated: String(rotated) });
    this.rotationDuration.observe({ os_type: OS_TYPE }, seconds(durationSeconds));
  }

  rotationReconcileError(provider: string, errorType: string, rotated: boolean): void {
    this.rotationErrorTotal.inc({ provider: providerLabel(provider), error_type: errorTypeLabel(errorType), os_type: OS_TYPE, rotated: String(rotated) });
  }

  syncK8sSecret(provider: string, durationSeconds: number): void {
    this.syncTotal.inc({ provider: providerLabel(provider), os_type: OS_TYPE });
    this.syncDuration.observe({ os_type: OS_TYPE }, seconds(durationSeconds));
  }

  providerRequest(provider: string, result: string): void {
    this.providerRequestsTotal.inc({ provider: providerLabel(provider), result: providerResultLabel(result), os_type: OS_TYPE });
  }

  rotationSkipped(reason: string): void {
    this.rotationSkippedTotal.inc({ reason, os_type: OS_TYPE });
  }

  readContentAgeFrom(reader: ContentAgeReader): void {
    this.readContentAge = reader;
  }

  readProviderHealthFrom(reader: ProviderHealthReader): void {
    this.readProviderHealth = reader;
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

/**
 * Runs on each scrape of a per-provider gauge. The gauge starts empty every time, so a provider that went
 * away disappears; a reader that throws leaves it empty rather than failing the whole scrape.
 */
function collectPerProvider(gauge: Gauge<'provider' | 'os_type'>, read: () => Iterable<readonly [string, number]>): void {
  gauge.reset();
  try {
    for (const [provider, value] of read()) gauge.set({ provider: providerLabel(provider), os_type: OS_TYPE }, value);
  } catch {
    gauge.reset();
  }
}

/** The port promises never to throw: a clock step backwards (a negative or NaN duration or age) is recorded as 0. */
function seconds(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
