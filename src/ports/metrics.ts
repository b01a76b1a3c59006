/** Seconds since the provider last confirmed the oldest mounted content of each provider, by provider name. */
export type ContentAgeReader = () => ReadonlyMap<string, number>;

/** Whether each provider answered its last health check, by provider name. */
export type ProviderHealthReader = () => ReadonlyMap<string, boolean>;

/**
 * Driver metrics: the upstream driver's names and labels, plus this driver's rotation metrics.
 * Contract: synchronous, never throws; label values are bounded by the adapter with the domain's
 * rules (`metric-labels.ts`): any text may be passed, only a fixed set of values becomes series.
 */
export interface Metrics {
  nodePublish(provider: string): void;
  nodePublishError(provider: string, errorType: string): void;
  nodeUnpublish(): void;
  nodeUnpublishError(): void;
  rotationReconcile(provider: string, rotated: boolean, durationSeconds: number): void;
  rotationReconcileError(provider: string, errorType: string, rotated: boolean): void;
  syncK8sSecret(provider: string, durationSeconds: number): void;
  /**
   * `provider_requests_total{provider,result}`: one provider Mount call that was actually made (a
   * joined single-flight or shared call is not counted again); `result` is "success" or the failure's
   * error type (the provider's own code, or a DomainError code such as ProviderUnavailable).
   */
  providerRequest(provider: string, result: string): void;
  /** `rotation_skipped_total{reason}`: a rotation check that did not call the provider, and why. */
  rotationSkipped(reason: string): void;
  /**
   * `api_server_reads_total{resource}`: a GET that went to the API server because no local cache could
   * answer (an object not cached yet, a write race, the CSIDriver's periodic read). Cache lists and
   * watches are not counted.
   */
  apiServerRead(resource: string): void;
  /**
   * `mounted_content_age_seconds{provider}` (gauge): the reader is called whenever the metric is read
   * (a scrape), so the age keeps growing while rotation is stuck. The last registered reader wins.
   */
  readContentAgeFrom(reader: ContentAgeReader): void;
  /**
   * `provider_healthy{provider}` (gauge, 1 or 0): read from the reader at each scrape, as the content
   * age; no series without `--provider-health-check`. The last registered reader wins.
   */
  readProviderHealthFrom(reader: ProviderHealthReader): void;
}
export const Metrics = Symbol.for('Metrics');
