import { DEFAULT_RETRY } from '../../adapters/provider-grpc/grpc-secret-provider.js';
import type { RotationConfig } from '../config.js';

/** What the simulation's waits are derived from: the driver's rotation settings and how many mounts share its workers. */
export interface CheckTiming extends Pick<RotationConfig, 'intervalMs' | 'jitterFraction' | 'workers'> {
  /** Mounts the rotation loop checks (one per simulated pod). */
  readonly mounts: number;
}

/**
 * One check's own work beyond the provider client's retries: the provider call, the file writes and the
 * simulation's file verification. Generous on purpose: a late event is waited for, not reported missing.
 */
const CHECK_WORK_MS = 250;

/** The longest one check may hold a worker: the provider client's UNAVAILABLE retries plus the work itself. */
export function checkCostMs(): number {
  let retriesMs = 0;
  for (let attempt = 1; attempt < DEFAULT_RETRY.attempts; attempt++) retriesMs += DEFAULT_RETRY.backoffMs * 2 ** (attempt - 1);
  return retriesMs + CHECK_WORK_MS;
}

/** How long a due check may wait for a worker: every mount may be due at once, `workers` run side by side. */
export function queueWaitMs(timing: CheckTiming): number {
  return Math.ceil(timing.mounts / timing.workers) * checkCostMs();
}

/** The longest wait for a mount's next scheduled check: the interval plus its jitter, plus its place in the queue. */
export function scheduledCheckWithinMs(timing: CheckTiming): number {
  return timing.intervalMs * (1 + timing.jitterFraction) + queueWaitMs(timing);
}

/** The longest wait for a check made due now (on demand, or a due time already passed). */
export function immediateCheckWithinMs(timing: CheckTiming): number {
  return queueWaitMs(timing) + checkCostMs();
}

/**
 * The longest each demonstration can take: the on-demand one waits for a scheduled check, then for the
 * check the request makes due; the outage waits for every mount's scheduled check to fail, then for the
 * subject's next check, due at most one interval (its backoff) later.
 */
export function demoDurations(timing: CheckTiming): { readonly onDemandMs: number; readonly outageMs: number } {
  return {
    onDemandMs: scheduledCheckWithinMs(timing) + immediateCheckWithinMs(timing),
    outageMs: 2 * scheduledCheckWithinMs(timing),
  };
}
