import { fetchSharing, sharingCandidate } from '../domain/fetch-key.js';
import {
  effectiveInterval,
  isDue,
  pendingRotationRequests,
  RotationAnnotation,
  scheduleAfterFailure,
  scheduleAfterRestart,
  scheduleAfterSuccess,
  type BindingSchedule,
  type RotationSettings,
  type RotationSkipReason,
} from '../domain/rotation-policy.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import type { StringMap, VolumeBinding } from '../domain/volume-binding.js';
import type { CancelTimer, Clock, Random, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PodInfo, PodSource } from '../ports/pod-source.js';
import type { ClassChange, SecretProviderClassSource } from '../ports/secret-provider-class-source.js';
import type { BindingRegistry, RegisteredBinding } from './binding-registry.js';
import { FetchPass, KUBELET_FETCH, type FetchContext } from './fetch-coalescing.js';
import type { RotateBinding, RotationOutcome } from './rotate-binding.js';
import type { TargetLocks } from './target-locks.js';

export interface ReconcilerSettings extends RotationSettings {
  /** `--enable-secret-rotation`: without it mounts are never refreshed after the first publish. */
  readonly enabled: boolean;
  /** How many bindings are checked at the same time. */
  readonly workers: number;
  /**
   * `--provider-qps` / `--provider-burst`: the per-provider rate limit of the loop's provider calls
   * (0 or absent = unlimited). Read by the composition root for FetchSecrets, not by the loop itself.
   */
  readonly providerQps?: number;
  readonly providerBurst?: number;
}

/**
 * The rotation loop: every binding has its own due time (interval +/- jitter, backoff after a
 * failure); a timer fires at the earliest one and the due bindings are checked by a bounded pool.
 * A change of a class makes its bindings due at once.
 *
 * Fetch sharing: when a class has `secrets-store.csi.k8s.io/fetch-sharing: serviceaccount`, a pass
 * that checks one of its bindings also checks the other bindings of the same provider, namespace,
 * class and service account (due or not), and they share one provider call per sharing key within the
 * pass. Such a group is therefore checked as one, when its earliest member is due: the jitter no
 * longer spreads it over many calls, and no member is ever checked later than its own due time.
 */
export class RotationReconciler {
  private cancelTimer: CancelTimer | undefined;
  private running: Promise<void> | undefined;
  private unsubscribe: (() => void)[] = [];
  private started = false;
  private readonly outcomeListeners = new Set<(outcome: RotationOutcome) => void>();
  /** fetch-sharing annotation problems already logged (once per class, generation and value). */
  private readonly sharingWarnings = new Set<string>();

  constructor(
    private readonly settings: ReconcilerSettings,
    private readonly registry: BindingRegistry,
    private readonly locks: TargetLocks,
    private readonly rotate: RotateBinding,
    private readonly classes: SecretProviderClassSource,
    private readonly pods: PodSource,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.started || !this.settings.enabled) return;
    this.started = true;
    this.unsubscribe = [
      this.classes.onChange((change) => this.classChanged(change)),
      this.pods.onChange((pod) => this.podChanged(pod)),
      this.registry.onPut(() => this.wake()),
    ];
    this.wake();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.unsubscribe = [];
    await this.running;
  }

  /** Hears every check's outcome (the simulation prints them; tests observe them). */
  onOutcome(listener: (outcome: RotationOutcome) => void): () => void {
    this.outcomeListeners.add(listener);
    return () => this.outcomeListeners.delete(listener);
  }

  /**
   * Adds a freshly mounted binding; its first check is one interval away. A `rotate-requested-at`
   * value the class or pod already carries counts as handled: the mount was just made from the store.
   */
  async register(binding: VolumeBinding, spc: SecretProviderClass): Promise<void> {
    const { pod } = binding.request;
    const podInfo = await this.pods.get(pod.namespace, pod.name).catch(() => undefined);
    const requests = { ...handledRequests(spc), ...(podInfo?.uid === pod.uid ? podRequests(podInfo) : {}) };
    const { intervalMs } = effectiveInterval(this.settings, spc.annotations);
    const schedule = scheduleAfterSuccess(this.settings, intervalMs, this.clock.now(), () => this.random.next(), requests);
    this.registry.put({ binding, schedule, intervalMs });
  }

  /**
   * Adds a binding rebuilt after a driver restart (`pod` is its pod as the cluster shows it now); its
   * first check comes soon, spread over a fraction of the interval. That check serves any
   * `rotate-requested-at` value the class or pod carries, so those count as handled. Without its class
   * (deleted meanwhile) the checks fail and back off, as they would have without the restart.
   */
  adopt(binding: VolumeBinding, spc: SecretProviderClass | undefined, pod: PodInfo): void {
    const requests = { ...(spc ? handledRequests(spc) : {}), ...podRequests(pod) };
    const { intervalMs } = effectiveInterval(this.settings, spc?.annotations ?? {});
    const schedule = scheduleAfterRestart(this.settings, intervalMs, this.clock.now(), () => this.random.next(), requests);
    this.registry.put({ binding, schedule, intervalMs });
  }

  /** Why a republish of this binding does not check the provider now, or undefined when it does. */
  republishSkipReason(entry: RegisteredBinding): RotationSkipReason | undefined {
    if (!this.settings.enabled) return 'RotationDisabled';
    return isDue(entry.schedule, this.clock.now()) ? undefined : 'NotDue';
  }

  /** Checks one binding now; the caller already holds its target. Without a context the check is kubelet's (republish). */
  async checkNow(binding: VolumeBinding, context: FetchContext = KUBELET_FETCH): Promise<RotationOutcome> {
    const before = this.registry.get(binding.request.target.path);
    const planner = new NextCheckPlan(this.settings, before, () => this.clock.now(), () => this.random.next());
    const outcome = await this.rotate.execute(binding, context, planner.nextCheckAt);
    this.record(outcome, before, planner);
    return outcome;
  }

  /** One pass over the bindings that are due now (the timer calls it; tests may too). */
  async runDueChecks(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.checkDue().finally(() => {
      this.running = undefined;
      this.wake();
    });
    return this.running;
  }

  private async checkDue(): Promise<void> {
    const batch = await this.passBatch(this.clock.now());
    const pass = new FetchPass();
    const context: FetchContext = { origin: 'rotation', pass };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length) {
        const entry = batch[next++]!;
        const target = entry.binding.request.target.path;
        await this.locks.tryRun(target, async () => {
          const current = this.registry.get(target);
          if (current !== undefined) await this.checkNow(current.binding, context);
        });
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(this.settings.workers, batch.length)) }, worker));
    } finally {
      pass.close();
    }
  }

  /**
   * The bindings this pass checks: the due ones, plus the fetch-sharing companions of each (see the
   * class comment). Ordered so the first member of each group comes before any second member: the
   * workers start distinct provider calls side by side and the other members find the answers ready.
   */
  private async passBatch(now: number): Promise<RegisteredBinding[]> {
    const all = this.registry.all();
    const due = all.filter((entry) => isDue(entry.schedule, now));
    const groupOf = (entry: RegisteredBinding): string => sharingCandidate(entry.binding.providerName, entry.binding.request);
    const sharingGroups = new Set<string>();
    const classSharing = new Map<string, boolean>();
    for (const entry of due) {
      const { namespace } = entry.binding.request.pod;
      const classKey = `${namespace}/${entry.binding.request.className}`;
      if (!classSharing.has(classKey)) classSharing.set(classKey, await this.sharesFetches(namespace, entry.binding.request.className));
      if (classSharing.get(classKey)) sharingGroups.add(groupOf(entry));
    }
    if (sharingGroups.size === 0) return due;
    const batch = new Set(due);
    for (const entry of all) if (sharingGroups.has(groupOf(entry))) batch.add(entry);
    const rank = new Map<string, number>();
    return [...batch]
      .map((entry) => {
        const group = groupOf(entry);
        const position = rank.get(group) ?? 0;
        rank.set(group, position + 1);
        return { entry, position };
      })
      .sort((a, b) => a.position - b.position)
      .map(({ entry }) => entry);
  }

  /** Whether a class opted in to fetch sharing (a class that cannot be read does not). */
  private async sharesFetches(namespace: string, className: string): Promise<boolean> {
    let spc: SecretProviderClass | undefined;
    try {
      spc = await this.classes.get(namespace, className);
    } catch {
      return false;
    }
    if (spc === undefined) return false;
    const sharing = fetchSharing(spc.annotations);
    const warning = `${namespace}/${className}@${spc.generation}: ${sharing.problem}`;
    if (sharing.problem && !this.sharingWarnings.has(warning)) {
      this.sharingWarnings.add(warning);
      this.logger.warn('ignoring class fetch-sharing annotation', { class: `${namespace}/${className}`, problem: sharing.problem });
    }
    return sharing.enabled;
  }

  private record(outcome: RotationOutcome, before: RegisteredBinding | undefined, planner: NextCheckPlan): void {
    const target = outcome.binding.request.target.path;
    const entry = this.registry.get(target);
    if (entry === undefined) return;
    // A class change during the check rescheduled the binding; the check may have read the old class,
    // so the earlier due time stands.
    const keepEarlierDue = (schedule: BindingSchedule): BindingSchedule =>
      entry === before ? schedule : { ...schedule, nextDueAt: Math.min(schedule.nextDueAt, entry.schedule.nextDueAt) };
    const spc = outcome.kind === 'unchanged' || outcome.kind === 'rotated' ? outcome.spc : undefined;
    const failed = outcome.kind === 'failed' || (spc !== undefined && outcome.kind !== 'skipped' && outcome.secretFailures.length > 0);
    const plan = planner.plan(failed, spc);
    if (plan.problem && spc) this.logger.warn('ignoring class rotation interval', { class: `${spc.namespace}/${spc.name}`, problem: plan.problem });
    this.registry.put({ binding: outcome.binding, schedule: keepEarlierDue(plan.schedule), intervalMs: plan.intervalMs });
    for (const listener of this.outcomeListeners) listener(outcome);
  }

  /** On demand: a new `rotate-requested-at` value on a pod makes its bindings due now, once per value. */
  private podChanged(pod: PodInfo): void {
    const now = this.clock.now();
    for (const entry of this.registry.all()) {
      if (entry.binding.request.pod.uid !== pod.uid) continue;
      const pending = pendingRotationRequests(entry.schedule, { [podKey(pod)]: pod.annotations });
      if (pending === undefined) continue;
      this.logger.info('rotation requested on the pod', { pod: `${pod.namespace}/${pod.name}`, value: pending[podKey(pod)] });
      const handled = { ...entry.schedule.handledRequests, ...pending };
      this.registry.put({ ...entry, schedule: { ...entry.schedule, nextDueAt: now, handledRequests: handled } });
    }
  }

  private classChanged(change: ClassChange): void {
    const now = this.clock.now();
    for (const entry of this.registry.ofClass(change.namespace, change.name)) {
      this.registry.put({ ...entry, schedule: { ...entry.schedule, nextDueAt: now } });
    }
  }

  private wake(): void {
    if (!this.started || this.running) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const entries = this.registry.all();
    if (entries.length === 0) return;
    const earliest = Math.min(...entries.map((entry: RegisteredBinding) => entry.schedule.nextDueAt));
    this.cancelTimer = this.scheduler.after(Math.max(0, earliest - this.clock.now()), () => {
      this.cancelTimer = undefined;
      void this.runDueChecks();
    });
  }
}

function podKey(pod: { readonly namespace: string; readonly name: string }): string {
  return `pod:${pod.namespace}/${pod.name}`;
}

function podRequests(pod: PodInfo): StringMap {
  const value = pod.annotations[RotationAnnotation.rotateRequestedAt];
  return value ? { [podKey(pod)]: value } : {};
}

function handledRequests(spc: SecretProviderClass): StringMap {
  const value = spc.annotations[RotationAnnotation.rotateRequestedAt];
  return value ? { [`class:${spc.namespace}/${spc.name}`]: value } : {};
}

/**
 * The next due time of a binding being checked, fixed once per way the check can end, so the time the
 * pod status reports is the time the loop then keeps.
 */
class NextCheckPlan {
  private readonly plans = new Map<boolean, { schedule: BindingSchedule; intervalMs: number; problem?: string }>();

  constructor(
    private readonly settings: ReconcilerSettings,
    private readonly entry: RegisteredBinding | undefined,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  readonly nextCheckAt = ({ failed, spc }: { readonly failed: boolean; readonly spc?: SecretProviderClass }): number =>
    this.plan(failed, spc).schedule.nextDueAt;

  plan(failed: boolean, spc: SecretProviderClass | undefined): { schedule: BindingSchedule; intervalMs: number; problem?: string } {
    const planned = this.plans.get(failed);
    if (planned) return planned;
    const interval = spc ? effectiveInterval(this.settings, spc.annotations) : { intervalMs: this.entry?.intervalMs ?? this.settings.intervalMs };
    const previous = this.entry?.schedule ?? { nextDueAt: 0, consecutiveFailures: 0, handledRequests: {} };
    const requests = spc ? { ...previous.handledRequests, ...handledRequests(spc) } : previous.handledRequests;
    const schedule = failed
      ? scheduleAfterFailure(this.settings, interval.intervalMs, previous, this.now(), this.random, requests)
      : scheduleAfterSuccess(this.settings, interval.intervalMs, this.now(), this.random, requests);
    const plan = { schedule, intervalMs: interval.intervalMs, ...(interval.problem ? { problem: interval.problem } : {}) };
    this.plans.set(failed, plan);
    return plan;
  }
}
