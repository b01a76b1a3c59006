import type { WorkloadKind } from '../domain/workload.js';

/**
 * The restarter's metrics. Contract: synchronous, never throws.
 */
export interface RestartMetrics {
  /** `workload_restarts_total{kind}`: a pod template annotated, so the workload rolls. */
  restarted(kind: WorkloadKind): void;
  /** `workload_restart_skipped_total{kind,reason}`: a decision not to restart now, and why (a SkipReason or WaitReason). */
  restartSkipped(kind: WorkloadKind, reason: string): void;
  /** `workload_restart_errors_total{kind}`: a restart the API refused. */
  restartFailed(kind: WorkloadKind): void;
  /** `restarter_leader` (gauge): 1 while this process holds the lease. */
  leading(isLeader: boolean): void;
}
export const RestartMetrics = Symbol.for('RestartMetrics');
