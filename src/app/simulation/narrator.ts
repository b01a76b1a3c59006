import type { DomainError } from '../../domain/errors.js';
import { describeDiff } from '../../domain/object-versions.js';
import { RotationAnnotation } from '../../domain/rotation-policy.js';
import type { RotationOutcome } from '../../application/rotate-binding.js';

interface PendingChange {
  readonly object: string;
  readonly version: string;
  readonly at: number;
}

/** Rotation latencies and counts gathered while the simulation runs. */
export interface SimulationSummary {
  readonly storeChanges: number;
  readonly mountRotations: number;
  readonly secretUpdates: number;
  /** Unexpected problems: failed checks outside the provider outage, files that do not match. */
  readonly failures: number;
  /** Checks that failed during the provider outage the simulation caused, as they should. */
  readonly outageFailures: number;
  readonly latenciesMs: readonly number[];
  /** From setting `rotate-requested-at` on a pod to its check's outcome, when the simulation asked. */
  readonly onDemandLatencyMs: number | undefined;
  /** Restarts of the opted-in Deployment, one per rotation its pods saw. */
  readonly workloadRestarts: number;
}

/**
 * Prints what happens as readable lines (time since start, what, where, old -> new version, how long
 * after the change in the store) and keeps the figures for the summary. Never prints secret values.
 */
export class Narrator {
  private readonly changes: PendingChange[] = [];
  private readonly latencies: number[] = [];
  private mountRotations = 0;
  private secretUpdates = 0;
  private failures = 0;
  private outageFailures = 0;
  private onDemandLatencyMs: number | undefined;
  private workloadRestarts = 0;

  /** `causedBySimulation`: a failure the simulation brought about on purpose (its provider outage), expected whenever it is reported. */
  constructor(
    private readonly write: (line: string) => void,
    private readonly now: () => number,
    private readonly startedAt: number,
    private readonly causedBySimulation: (error: DomainError) => boolean = () => false,
  ) {}

  line(kind: string, subject: string, text: string): void {
    const elapsed = ((this.now() - this.startedAt) / 1000).toFixed(2).padStart(7);
    this.write(`${elapsed}s  ${kind.padEnd(7)} ${subject.padEnd(26)} ${text}`);
  }

  storeChanged(object: string, from: string, to: string): void {
    this.changes.push({ object, version: to, at: this.now() });
    this.line('store', object, `${from} -> ${to}   (changed in the external store)`);
  }

  /**
   * `verified`: the files are what this outcome must leave: the store's contents after a rotation, the
   * files as they were after a check failed during the provider outage.
   */
  rotationOutcome(outcome: RotationOutcome, verified: boolean): void {
    const { pod } = outcome.binding.request;
    const subject = `${pod.namespace}/${pod.name}`;
    if (outcome.kind === 'failed' && this.causedBySimulation(outcome.error)) {
      this.outageFailures++;
      if (!verified) this.failures++;
      // The full reason is long and the same for each pod: the pod status line shows it once.
      const files = verified ? 'old files kept, verified unchanged' : 'FILES CHANGED';
      this.line('failed', subject, `check failed during the provider outage: ${outcome.error.code}  [${files}]`);
      return;
    }
    if (outcome.kind === 'failed') {
      this.failures++;
      this.line('FAILED', subject, `${outcome.error.code}: ${outcome.error.message} (old files kept)`);
      return;
    }
    if (outcome.kind !== 'rotated') return;
    if (outcome.filesChanged || outcome.versions.changed.length + outcome.versions.added.length + outcome.versions.removed.length > 0) {
      this.mountRotations++;
      const lag = this.lagFor([...outcome.versions.changed.map((c) => ({ id: c.id, version: c.to }))]);
      const check = verified ? 'files verified' : 'FILES DO NOT MATCH';
      this.line('mount', subject, `${describeDiff(outcome.versions)}${lag}  [${check}]`);
      if (!verified) this.failures++;
    }
  }

  secretChanged(name: string, keys: readonly string[], versions: readonly { id: string; version: string }[]): void {
    this.secretUpdates++;
    this.line('secret', name, `data updated: ${keys.join(', ')}${this.lagFor(versions, false)}`);
  }

  onDemandRequested(subject: string, value: string): void {
    this.line('pod', subject, `annotated ${RotationAnnotation.rotateRequestedAt}=${value}   (rotation asked on demand)`);
  }

  /**
   * The check that answered an on-demand request, `latencyMs` after it; `scheduledInMs` is how long
   * after the request the pod's poll interval could have brought a check at the earliest.
   */
  onDemandAnswered(outcome: RotationOutcome, latencyMs: number, scheduledInMs: number): void {
    const { pod } = outcome.binding.request;
    const subject = `${pod.namespace}/${pod.name}`;
    if (outcome.kind !== 'rotated') {
      this.problem(subject, `on demand: the check ${latencyMs} ms after the request ended ${outcome.kind}, nothing rotated`);
      return;
    }
    const schedule =
      latencyMs < scheduledInMs
        ? `its poll interval would not have checked it for another ${seconds(scheduledInMs)}`
        : 'its scheduled check was due by then too: whichever came first';
    this.onDemandLatencyMs = latencyMs;
    this.line('demand', subject, `on demand: ${describeDiff(outcome.versions)} rotated in ${latencyMs} ms   (${schedule})`);
  }

  /** The restarter rolled a workload for a rotation (`hash`: the pod template's restarted-for value). */
  workloadRestarted(subject: string, why: string, hash: string): void {
    this.workloadRestarts++;
    this.line('restart', subject, `Deployment restarted: ${why}   (restarted-for ${hash.slice(0, 12)}…)`);
  }

  /** Something the simulation expected did not happen: printed loudly and counted as a failure. */
  problem(subject: string, text: string): void {
    this.failures++;
    this.line('FAILED', subject, text);
  }

  note(text: string): void {
    this.write(text);
  }

  summary(): SimulationSummary {
    return {
      storeChanges: this.changes.length,
      mountRotations: this.mountRotations,
      secretUpdates: this.secretUpdates,
      failures: this.failures,
      outageFailures: this.outageFailures,
      latenciesMs: [...this.latencies],
      onDemandLatencyMs: this.onDemandLatencyMs,
      workloadRestarts: this.workloadRestarts,
    };
  }

  /** `(1.23s after the change)` for the newest store change among `versions`. */
  private lagFor(versions: readonly { id: string; version: string }[], record = true): string {
    const matched = this.changes.filter((c) => versions.some((v) => v.id === c.object && v.version === c.version));
    if (matched.length === 0) return '';
    const lag = this.now() - Math.max(...matched.map((c) => c.at));
    if (record) this.latencies.push(lag);
    return `   (${seconds(lag)} after the change)`;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

/** The nearest-rank percentile of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
