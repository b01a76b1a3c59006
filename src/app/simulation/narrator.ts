import { describeDiff } from '../../domain/object-versions.js';
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
  readonly failures: number;
  readonly latenciesMs: readonly number[];
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

  constructor(
    private readonly write: (line: string) => void,
    private readonly now: () => number,
    private readonly startedAt: number,
  ) {}

  line(kind: string, subject: string, text: string): void {
    const elapsed = ((this.now() - this.startedAt) / 1000).toFixed(2).padStart(7);
    this.write(`${elapsed}s  ${kind.padEnd(7)} ${subject.padEnd(26)} ${text}`);
  }

  storeChanged(object: string, from: string, to: string): void {
    this.changes.push({ object, version: to, at: this.now() });
    this.line('store', object, `${from} -> ${to}   (changed in the external store)`);
  }

  rotationOutcome(outcome: RotationOutcome, verified: boolean): void {
    const { pod } = outcome.binding.request;
    const subject = `${pod.namespace}/${pod.name}`;
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

  note(text: string): void {
    this.write(text);
  }

  summary(): SimulationSummary {
    return {
      storeChanges: this.changes.length,
      mountRotations: this.mountRotations,
      secretUpdates: this.secretUpdates,
      failures: this.failures,
      latenciesMs: [...this.latencies],
    };
  }

  /** `(1.23s after the change)` for the newest store change among `versions`. */
  private lagFor(versions: readonly { id: string; version: string }[], record = true): string {
    const matched = this.changes.filter((c) => versions.some((v) => v.id === c.object && v.version === c.version));
    if (matched.length === 0) return '';
    const lag = this.now() - Math.max(...matched.map((c) => c.at));
    if (record) this.latencies.push(lag);
    return `   (${(lag / 1000).toFixed(2)}s after the change)`;
  }
}

/** The nearest-rank percentile of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
