import { describeError } from '../domain/errors.js';
import { EventReason } from '../domain/events.js';
import {
  decideRestart,
  describeRestart,
  parseOptIn,
  type PendingRotation,
  type RestartDecision,
  type RestartSettings,
} from '../domain/restart-on-rotation.js';
import { fullBucket, type TokenBucket } from '../domain/token-bucket.js';
import { workloadName, type Workload, type WorkloadKey } from '../domain/workload.js';
import type { CancelTimer, Clock, Scheduler } from '../ports/clock.js';
import type { EventRecorder } from '../ports/event-recorder.js';
import type { Logger } from '../ports/logger.js';
import type { PodOwners } from '../ports/pod-owners.js';
import type { PodStatusFeed } from '../ports/pod-status-feed.js';
import type { RestartMetrics } from '../ports/restart-metrics.js';
import type { SyncedSecrets } from '../ports/synced-secrets.js';
import type { WorkloadStore } from '../ports/workload-store.js';
import type { WorkloadEvidence } from './workload-evidence.js';

/** After a failed read or write the workload is decided again this much later (doubling up to the cap). */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** After a write refused as a conflict, the workload is decided again when its change arrives, or this much later. */
const CONFLICT_RETRY_MS = 1_000;

/**
 * The restarter's loop: hears of pod status, synced Secret and workload changes, and decides one workload
 * at a time (`decideRestart`) whether to restart it now, wait (a timer decides again) or leave it.
 * It follows the feeds all along (so it knows what changed) but acts only while it leads (`lead`/`follow`).
 */
export class RestartReconciler {
  private leading = false;
  private readonly queue = new Map<string, WorkloadKey>();
  private readonly pending = new Map<string, PendingRotation>();
  private readonly timers = new Map<string, CancelTimer>();
  private readonly failures = new Map<string, number>();
  /** The last decision per workload, to report transitions once (logs, Warning events). */
  private readonly lastOutcome = new Map<string, string>();
  private clusterBucket: TokenBucket;
  private running: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private unsubscribes: (() => void)[] = [];

  constructor(
    private readonly settings: RestartSettings,
    private readonly workloads: WorkloadStore,
    private readonly statuses: PodStatusFeed,
    private readonly owners: PodOwners,
    private readonly secrets: SyncedSecrets,
    private readonly evidence: WorkloadEvidence,
    private readonly events: EventRecorder,
    private readonly metrics: RestartMetrics,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
  ) {
    this.clusterBucket = fullBucket(settings.clusterLimit, clock.now());
  }

  /** Subscribes to the feeds. */
  start(): void {
    if (this.unsubscribes.length > 0) return;
    this.unsubscribes = [
      this.statuses.onChange((change) => {
        this.evidence.noteChange(change);
        const record = change.current ?? change.previous;
        if (record !== undefined && this.leading) void this.enqueueOwnerOf(record.namespace, record.podName, record.podUid);
      }),
      this.secrets.onChange(({ namespace, name }) => {
        if (this.leading) void this.enqueueReaders(namespace, name);
      }),
      this.workloads.onChange((key) => {
        if (this.leading) this.enqueue(key);
      }),
    ];
  }

  /** This process now holds the lease: decide every opted-in workload. */
  async lead(): Promise<void> {
    if (this.leading) return;
    this.leading = true;
    this.clusterBucket = fullBucket(this.settings.clusterLimit, this.clock.now());
    try {
      for (const workload of await this.workloads.list()) if (parseOptIn(workload.annotations).kind !== 'off') this.enqueue(workload.key);
    } catch (error) {
      this.logger.error('could not list workloads; deciding them as they change', { error: describeError(error) });
    }
  }

  /** The lease is gone: stop acting and forget what was waiting (the next leader decides afresh). */
  follow(): void {
    this.leading = false;
    this.queue.clear();
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.pending.clear();
    this.failures.clear();
    this.lastOutcome.clear();
  }

  async stop(): Promise<void> {
    this.follow();
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes = [];
    await this.running;
  }

  /** Resolves once no decision is queued or running (tests). */
  whenIdle(): Promise<void> {
    if (this.running === undefined && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(key: WorkloadKey): void {
    if (!this.leading) return;
    this.queue.set(keyText(key), key);
    this.running ??= this.drain();
  }

  private async enqueueOwnerOf(namespace: string, name: string, uid: string): Promise<void> {
    try {
      const owner = await this.owners.ownerOf({ namespace, name, uid });
      if (owner?.workload !== undefined) this.enqueue(owner.workload);
    } catch (error) {
      this.logger.warn('could not find the owner of a pod', { pod: `${namespace}/${name}`, error: describeError(error) });
    }
  }

  private async enqueueReaders(namespace: string, secretName: string): Promise<void> {
    try {
      for (const workload of await this.workloads.list()) {
        if (workload.key.namespace === namespace && workload.secretNames.includes(secretName)) this.enqueue(workload.key);
      }
    } catch (error) {
      this.logger.warn('could not list workloads', { error: describeError(error) });
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.leading && this.queue.size > 0) {
        const [text, key] = this.queue.entries().next().value as [string, WorkloadKey];
        this.queue.delete(text);
        await this.decide(key);
      }
    } finally {
      this.running = undefined;
      if (this.queue.size > 0 && this.leading) {
        this.running = this.drain();
      } else {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  private async decide(key: WorkloadKey): Promise<void> {
    const text = keyText(key);
    this.cancelTimer(text);
    try {
      const workload = await this.workloads.get(key);
      if (workload === undefined) return this.forget(text);
      const optIn = parseOptIn(workload.annotations);
      const gathered = optIn.kind === 'on' ? await this.evidence.gather(workload, optIn.mode) : undefined;
      const decision = decideRestart(this.settings, {
        workload,
        evidence: gathered?.evidence ?? { mounts: [], secrets: [] },
        pending: this.pending.get(text),
        clusterBucket: this.clusterBucket,
        now: this.clock.now(),
      });
      this.failures.delete(text);
      if (decision.kind === 'restart') return await this.restart(workload, decision, describeRestart(gathered!.evidence, gathered!.changes));
      await this.holdBack(workload, decision);
    } catch (error) {
      this.retryLater(key, error);
    }
  }

  private async restart(workload: Workload, decision: Extract<RestartDecision, { kind: 'restart' }>, message: string): Promise<void> {
    const text = keyText(workload.key);
    const subject = { ...workload.key, uid: workload.uid };
    let written;
    try {
      written = await this.workloads.setTemplateAnnotations(workload, decision.templateAnnotations);
    } catch (error) {
      const message = `could not annotate the pod template: ${describeError(error)}`;
      await this.events.record({ workload: subject, type: 'Warning', reason: EventReason.restartOnRotationFailed, message });
      throw error;
    }
    if (written === 'gone') return this.forget(text);
    // The workload moved on since it was read: its change is queued, or on its way from the store's watch
    // (deciding again at once would read the same version and write in a loop while the watch lags).
    if (written === 'conflict') return this.decideAgainAt(workload.key, this.clock.now() + CONFLICT_RETRY_MS);
    this.clusterBucket = decision.clusterBucket;
    this.pending.delete(text);
    this.lastOutcome.set(text, `restart ${decision.hash}`);
    this.metrics.restarted(workload.key.kind);
    this.logger.info('restarted on rotation', { workload: workloadName(workload.key), hash: decision.hash, why: message });
    await this.events.record({ workload: subject, type: 'Normal', reason: EventReason.restartedOnRotation, message });
  }

  private async holdBack(workload: Workload, decision: Exclude<RestartDecision, { kind: 'restart' }>): Promise<void> {
    const text = keyText(workload.key);
    if (decision.pending === undefined) this.pending.delete(text);
    else this.pending.set(text, decision.pending);
    if (decision.kind === 'wait') this.decideAgainAt(workload.key, decision.until);
    if (decision.kind === 'skip' && decision.reason === 'NotOptedIn') return this.forget(text);
    this.metrics.restartSkipped(workload.key.kind, decision.reason);
    const detail = decision.kind === 'skip' ? decision.detail : undefined;
    const outcome = `${decision.kind} ${decision.reason} ${detail ?? ''}`;
    if (this.lastOutcome.get(text) === outcome) return;
    this.lastOutcome.set(text, outcome);
    const fields = { workload: workloadName(workload.key), reason: decision.reason, ...(detail ? { detail } : {}), ...(decision.kind === 'wait' ? { until: new Date(decision.until).toISOString() } : {}) };
    if (decision.kind === 'skip' && decision.reason === 'InvalidOptIn') {
      this.logger.warn('restart on rotation not possible', fields);
      await this.events.record({ workload: { ...workload.key, uid: workload.uid }, type: 'Warning', reason: EventReason.restartOnRotationFailed, message: detail ?? decision.reason });
      return;
    }
    this.logger.debug(decision.kind === 'wait' ? 'restart on rotation waits' : 'no restart on rotation', fields);
  }

  private retryLater(key: WorkloadKey, error: unknown): void {
    const text = keyText(key);
    const failures = (this.failures.get(text) ?? 0) + 1;
    this.failures.set(text, failures);
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures - 1, 16));
    this.metrics.restartFailed(key.kind);
    this.logger.warn('deciding on a restart failed; trying again', { workload: workloadName(key), error: describeError(error), retryInMs: delayMs });
    this.decideAgainAt(key, this.clock.now() + delayMs);
  }

  private decideAgainAt(key: WorkloadKey, at: number): void {
    const text = keyText(key);
    this.cancelTimer(text);
    this.timers.set(
      text,
      this.scheduler.after(Math.max(0, at - this.clock.now()), () => {
        this.timers.delete(text);
        this.enqueue(key);
      }),
    );
  }

  private cancelTimer(text: string): void {
    this.timers.get(text)?.();
    this.timers.delete(text);
  }

  private forget(text: string): void {
    this.cancelTimer(text);
    this.pending.delete(text);
    this.failures.delete(text);
    this.lastOutcome.delete(text);
  }
}

function keyText(key: WorkloadKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}
