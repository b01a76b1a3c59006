import { Counter, Gauge, Histogram } from 'prom-client';
import { errorTypeLabel, providerLabel, providerResultLabel } from '../../domain/metric-labels.js';
import type { ContentAgeReader, Metrics, ProviderHealthReader } from '../../ports/metrics.js';
import { PrometheusExposition, type PrometheusExpositionOptions } from './prometheus-exposition.js';

export type PrometheusMetricsOptions = PrometheusExpositionOptions;

/** The upstream driver reports `runtime.GOOS`; this driver runs on Linux nodes only. */
const OS_TYPE = 'linux';

/**
 * Histogram boundaries (seconds) exactly as the upstream driver serves them: its exporter's view asks for 11
 * exponential buckets from 0.1 to 2 (client_golang's ExponentialBucketsRange), and these are the values it prints,
 * so that `le` labels, and the dashboards that select them, match.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.1, 0.13492828476735633, 0.18205642030260802, 0.24564560522315804, 0.3314454017339986, 0.4472135954999578, 0.6034176336545162,
  0.8141810630738084, 1.0985605433061172, 1.4822688982138947, 1.9999999999999991,
];

/**
 * The labels the upstream driver's OpenTelemetry Prometheus exporter adds to every series of its meter's
 * instruments. Empty values are no labels to Prometheus, but they are in the text, so they are here too.
 */
export const SCOPE_LABELS = { otel_scope_name: 'sigs.k8s.io/secrets-store-csi-driver', otel_scope_schema_url: '', otel_scope_version: '' } as const;
type ScopeLabel = keyof typeof SCOPE_LABELS;
const SCOPE_LABEL_NAMES = Object.keys(SCOPE_LABELS) as ScopeLabel[];

/** The labels every series of the driver's metrics carries. */
const COMMON_LABELS = { os_type: OS_TYPE, ...SCOPE_LABELS } as const;

/**
 * The driver's metrics in the Prometheus text format, named and labelled as the upstream driver's
 * OpenTelemetry exporter writes them (counters carry `_total`, histograms `_bucket`/`_sum`/`_count`, every series
 * the exporter's scope labels).
 * Label values pass the domain's bounds (metric-labels.ts), so a provider's error codes or a class's
 * provider name never add series beyond a fixed set.
 */
export class PrometheusMetrics extends PrometheusExposition implements Metrics {
  private readonly publishTotal: Counter<'provider' | 'os_type' | ScopeLabel>;
  private readonly publishErrorTotal: Counter<'provider' | 'error_type' | 'os_type' | ScopeLabel>;
  private readonly unpublishTotal: Counter<'os_type' | ScopeLabel>;
  private readonly unpublishErrorTotal: Counter<'os_type' | ScopeLabel>;
  private readonly rotationTotal: Counter<'provider' | 'os_type' | 'rotated' | ScopeLabel>;
  private readonly rotationErrorTotal: Counter<'provider' | 'error_type' | 'os_type' | 'rotated' | ScopeLabel>;
  private readonly rotationDuration: Histogram<'os_type' | ScopeLabel>;
  private readonly syncTotal: Counter<'provider' | 'os_type' | ScopeLabel>;
  private readonly syncDuration: Histogram<'os_type' | ScopeLabel>;
  private readonly providerRequestsTotal: Counter<'provider' | 'result' | 'os_type' | ScopeLabel>;
  private readonly rotationSkippedTotal: Counter<'reason' | 'os_type' | ScopeLabel>;
  private readonly apiServerReadsTotal: Counter<'resource' | 'os_type' | ScopeLabel>;
  private readContentAge: ContentAgeReader = () => new Map();
  private readProviderHealth: ProviderHealthReader = () => new Map();

  constructor(options: PrometheusMetricsOptions = {}) {
    super();
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L | ScopeLabel> =>
      new Counter<L | ScopeLabel>({ name, help, labelNames: [...labelNames, ...SCOPE_LABEL_NAMES], registers });
    const histogram = (name: string, help: string): Histogram<'os_type' | ScopeLabel> =>
      new Histogram<'os_type' | ScopeLabel>({ name, help, labelNames: ['os_type', ...SCOPE_LABEL_NAMES], buckets: [...DURATION_BUCKETS], registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], onScrape: (metric: Gauge<L | ScopeLabel>) => void): Gauge<L | ScopeLabel> =>
      new Gauge<L | ScopeLabel>({ name, help, labelNames: [...labelNames, ...SCOPE_LABEL_NAMES], registers, collect() { onScrape(this); } });

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
    // Upstream's instrument is named k8s_secret_duration_sec (only its documentation says sync_k8s_secret_duration_sec).
    this.syncDuration = histogram('k8s_secret_duration_sec', 'Distribution of how long it took to sync k8s secret');
    this.providerRequestsTotal = counter('provider_requests_total', 'Total number of provider Mount calls made, by result', ['provider', 'result', 'os_type']);
    this.rotationSkippedTotal = counter('rotation_skipped_total', 'Total number of rotation checks that did not call the provider, by reason', ['reason', 'os_type']);
    this.apiServerReadsTotal = counter('api_server_reads_total', 'Total number of reads sent to the Kubernetes API server because no local cache could answer, by resource', [
      'resource',
      'os_type',
    ]);
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
    this.unpublishTotal.labels(COMMON_LABELS).inc(0);
    this.unpublishErrorTotal.labels(COMMON_LABELS).inc(0);
    this.rotationDuration.zero(COMMON_LABELS);
    this.syncDuration.zero(COMMON_LABELS);

    this.addProcessMetrics(options);
  }

  nodePublish(provider: string): void {
    this.publishTotal.inc({ provider: providerLabel(provider), ...COMMON_LABELS });
  }

  nodePublishError(provider: string, errorType: string): void {
    this.publishErrorTotal.inc({ provider: providerLabel(provider), error_type: errorTypeLabel(errorType), ...COMMON_LABELS });
  }

  nodeUnpublish(): void {
    this.unpublishTotal.inc(COMMON_LABELS);
  }

  nodeUnpublishError(): void {
    this.unpublishErrorTotal.inc(COMMON_LABELS);
  }

  rotationReconcile(provider: string, rotated: boolean, durationSeconds: number): void {
    this.rotationTotal.inc({ provider: providerLabel(provider), rotated: String(rotated), ...COMMON_LABELS });
    this.rotationDuration.observe(COMMON_LABELS, seconds(durationSeconds));
  }

  rotationReconcileError(provider: string, errorType: string, rotated: boolean): void {
    this.rotationErrorTotal.inc({ provider: providerLabel(provider), error_type: errorTypeLabel(errorType), rotated: String(rotated), ...COMMON_LABELS });
  }

  syncK8sSecret(provider: string, durationSeconds: number): void {
    this.syncTotal.inc({ provider: providerLabel(provider), ...COMMON_LABELS });
    this.syncDuration.observe(COMMON_LABELS, seconds(durationSeconds));
  }

  providerRequest(provider: string, result: string): void {
    this.providerRequestsTotal.inc({ provider: providerLabel(provider), result: providerResultLabel(result), ...COMMON_LABELS });
  }

  rotationSkipped(reason: string): void {
    this.rotationSkippedTotal.inc({ reason, ...COMMON_LABELS });
  }

  apiServerRead(resource: string): void {
    this.apiServerReadsTotal.inc({ resource, ...COMMON_LABELS });
  }

  readContentAgeFrom(reader: ContentAgeReader): void {
    this.readContentAge = reader;
  }

  readProviderHealthFrom(reader: ProviderHealthReader): void {
    this.readProviderHealth = reader;
  }

}

/**
 * Runs on each scrape of a per-provider gauge. The gauge starts empty every time, so a provider that went
 * away disappears; a reader that throws leaves it empty rather than failing the whole scrape.
 */
function collectPerProvider(gauge: Gauge<'provider' | 'os_type' | ScopeLabel>, read: () => Iterable<readonly [string, number]>): void {
  gauge.reset();
  try {
    for (const [provider, value] of read()) gauge.set({ provider: providerLabel(provider), ...COMMON_LABELS }, value);
  } catch {
    gauge.reset();
  }
}

/** The port promises never to throw: a clock step backwards (a negative or NaN duration or age) is recorded as 0. */
function seconds(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
