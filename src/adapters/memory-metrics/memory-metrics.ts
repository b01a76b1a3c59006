import { errorTypeLabel, providerLabel, providerResultLabel } from '../../domain/metric-labels.js';
import type { WorkloadKind } from '../../domain/workload.js';
import type { ContentAgeReader, Metrics, ProviderHealthReader } from '../../ports/metrics.js';
import type { RestartMetrics } from '../../ports/restart-metrics.js';

export type MetricLabels = Readonly<Record<string, string>>;

/**
 * Counts in memory under the Prometheus adapters' metric names and label bounds (the driver's and the
 * restarter's), for the simulation and tests (`count('rotation_reconcile_total', { rotated: 'true' })`).
 */
export class MemoryMetrics implements Metrics, RestartMetrics {
  private readonly series = new Map<string, { name: string; labels: MetricLabels; value: number }>();
  private readContentAge: ContentAgeReader = () => new Map();
  private readProviderHealth: ProviderHealthReader = () => new Map();
  private isLeader = false;

  nodePublish(provider: string): void {
    this.add('node_publish_total', { provider: providerLabel(provider) });
  }
  nodePublishError(provider: string, errorType: string): void {
    this.add('node_publish_error_total', { provider: providerLabel(provider), error_type: errorTypeLabel(errorType) });
  }
  nodeUnpublish(): void {
    this.add('node_unpublish_total', {});
  }
  nodeUnpublishError(): void {
    this.add('node_unpublish_error_total', {});
  }
  rotationReconcile(provider: string, rotated: boolean, durationSeconds: number): void {
    this.add('rotation_reconcile_total', { provider: providerLabel(provider), rotated: String(rotated) });
    this.observe('rotation_reconcile_duration_sec', durationSeconds);
  }
  rotationReconcileError(provider: string, errorType: string, rotated: boolean): void {
    this.add('rotation_reconcile_error_total', { provider: providerLabel(provider), error_type: errorTypeLabel(errorType), rotated: String(rotated) });
  }
  syncK8sSecret(provider: string, durationSeconds: number): void {
    this.add('sync_k8s_secret_total', { provider: providerLabel(provider) });
    this.observe('k8s_secret_duration_sec', durationSeconds);
  }
  providerRequest(provider: string, result: string): void {
    this.add('provider_requests_total', { provider: providerLabel(provider), result: providerResultLabel(result) });
  }
  rotationSkipped(reason: string): void {
    this.add('rotation_skipped_total', { reason });
  }
  apiServerRead(resource: string): void {
    this.add('api_server_reads_total', { resource });
  }
  readContentAgeFrom(reader: ContentAgeReader): void {
    this.readContentAge = reader;
  }
  restarted(kind: WorkloadKind): void {
    this.add('workload_restarts_total', { kind }, 1, false);
  }
  restartSkipped(kind: WorkloadKind, reason: string): void {
    this.add('workload_restart_skipped_total', { kind, reason }, 1, false);
  }
  restartFailed(kind: WorkloadKind): void {
    this.add('workload_restart_errors_total', { kind }, 1, false);
  }
  leading(isLeader: boolean): void {
    this.isLeader = isLeader;
  }

  /** `restarter_leader` as a scrape would read it. */
  get leader(): number {
    return this.isLeader ? 1 : 0;
  }

  readProviderHealthFrom(reader: ProviderHealthReader): void {
    this.readProviderHealth = reader;
  }

  /** `provider_healthy{provider}` as a scrape would read it now (1 or 0); undefined when the provider has no series. */
  providerHealthy(provider: string): number | undefined {
    const healthy = this.readProviderHealth().get(provider);
    return healthy === undefined ? undefined : Number(healthy);
  }

  /** `mounted_content_age_seconds{provider}` as a scrape would read it now; undefined when the provider has no mount. */
  contentAge(provider: string): number | undefined {
    return this.readContentAge().get(provider);
  }

  /** Sum of every series of `name` whose labels include all of `labels`. */
  count(name: string, labels: MetricLabels = {}): number {
    let total = 0;
    for (const series of this.series.values()) {
      if (series.name === name && Object.entries(labels).every(([k, v]) => series.labels[k] === v)) total += series.value;
    }
    return total;
  }

  /** A histogram observation, kept as Prometheus keeps it: `<name>_count` and `<name>_sum`. */
  private observe(name: string, seconds: number): void {
    this.add(`${name}_count`, {});
    this.add(`${name}_sum`, {}, seconds);
  }

  /** The driver's metrics carry `os_type` as upstream's do; the restarter's do not. */
  private add(name: string, labels: MetricLabels, amount = 1, withOsType = true): void {
    const all = withOsType ? { ...labels, os_type: 'linux' } : { ...labels };
    const key = `${name}${JSON.stringify(Object.entries(all).sort())}`;
    const series = this.series.get(key) ?? { name, labels: all, value: 0 };
    series.value += amount;
    this.series.set(key, series);
  }
}
