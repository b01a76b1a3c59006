/** Driver metrics (names and labels of the upstream driver). Contract: synchronous, never throws. */
export interface Metrics {
  nodePublish(provider: string): void;
  nodePublishError(provider: string, errorType: string): void;
  nodeUnpublish(): void;
  nodeUnpublishError(): void;
  rotationReconcile(provider: string, rotated: boolean, durationSeconds: number): void;
  rotationReconcileError(provider: string, errorType: string, rotated: boolean): void;
  syncK8sSecret(provider: string, durationSeconds: number): void;
}
export const Metrics = Symbol.for('Metrics');
