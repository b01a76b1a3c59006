import { describeError, DomainError } from '../domain/errors.js';
import { fetchSharing, sharingCandidate } from '../domain/fetch-key.js';
import { RotationQueue, type WaitingCheck } from '../domain/rotation-fair-share.js';
import {
  effectiveInterval,
  isDue,
  nextWakeAt,
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
import type { StringMap, VolumeBinding, VolumeRequest } from '../domain/volume-binding.js';
import type { CancelTimer, Clock, Random, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PodInfo, PodSource } from '../ports/pod-source.js';
import type { ClassChange, SecretProviderClassSource } from '../ports/secret-provider-class-source.js';
import type { BindingRegistry, RegisteredBinding } from './binding-registry.js';
import { KUBELET_FETCH, type FetchContext } from './fetch-coalescing.js';
import { handledRequests, NextCheckPlan } from './next-check-plan.js';
import type { RotateBinding, RotationOutcome } from './rotate-binding.js';
import { SharingWaves } from './sharing-waves.js';
import type { TargetLocks } from './target-locks.js';

export interface ReconcilerSettings extends RotationSettings {
  /** `--enable-secret-rotation`: without it mounts are never refreshed after the first publish. */
  readonly enabled: boolean;
  /** `--rotation-workers`: the rotation pool's slots (at least one per provider with mounts). */
  readonly workers: number;
  /** `--rotation-call-timeout`: the deadline of a rotation check's provider call (absent: the adapter's own). */
  readonly callTimeoutMs?: number;
  /**
   * `--provider-qps` / `--provider-burst`: the per-provider rate limit of the loop's provider calls
   * (0 or absent = unlimited). Read by the composition root for FetchSecrets, not by the loop itself.
   */
  readonly providerQps?: number;
  readonly providerBurst?: number;
}

/** A binding's keys in the pool's queue and among the sharing groups, made once per request and provider. */
interface QueueKeys {
  readonly providerName: string;
  readonly sharingGroup: string;
  readonly classKey: string;
}

/** A check holding a slot of the pool. */
interface RunningCheck {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/**
 * The rotation loop: every binding has its own due time (interval +/- jitter, backoff after a
 * failure); a timer fires at the earliest one, and a pool of slots runs the due checks, each check
 * starting as soon as the pool admits it (`domain/rotation-fair-share.ts`: a provider or class that
 * hangs keeps to its share and the others keep their schedule). A slot is given back when its check
 * ends, so one slow check never holds back the next due checks of others. A change of a class makes its
 * bindings due at once; so does a new `rotate-requested-at` value on a pod.
 *
 * The pool's queue (`RotationQueue`) follows the registry one put or delete at a time, so starting the
 * next check never looks at every binding.
 *
 * Each check's provider call has its own deadline (`callTimeoutMs`), and a check can be given up: an
 * unpublish of its target cancels it (TargetLocks), as does `stop()`.
 *
 * Fetch sharing: when a class has `secrets-store.csi.k8s.io/fetch-sharing: serviceaccount`, a due
 * binding of it brings the other bindings of the same provider, namespace, class and service account
 * (due or not) into the pool with it, and they share one provider call per sharing key (SharingWaves).
 */
export class RotationReconciler {
  private cancelTimer: CancelTimer | undefined;
  private unsubscribe: (() => void)[] = [];
  private started = false;
  private readonly outcomeListeners = new Set<(outcome: RotationOutcome) => void>();
  /** Class annotation problems already logged (once per class, generation and problem). */
  private readonly classWarnings = new Set<string>();
  /** Whether a class (`namespace/name`) shares fetches, until the class changes or the pool falls idle. */
  private readonly classSharing = new Map<string, boolean>();
  private readonly running = new Map<string, RunningCheck>();
  private readonly waves = new SharingWaves();
  private dispatching: Promise<void> | undefined;
  private dispatchAgain = false;
  private idleWaiters: (() => void)[] = [];
  private readonly queue: RotationQueue;
  /** Targets by sharing group (`sharingCandidate`), and each target's group: a wave's members. */
  private readonly sharingGroups = new Map<string, Set<string>>();
  private readonly sharingGroupOf = new Map<string, string>();
  /** By volume request: every check puts its binding back with the request it had. */
  private readonly queueKeys = new WeakMap<VolumeRequest, QueueKeys>();
  /** When the armed timer fires (`nextWakeAt` of the queue's earliest due time when it was armed). */
  private timerAt: number | undefined;
  /** When the timer last fired. */
  private lastWakeAt = -Infinity;
  /** Without a started loop, checks run only when asked: for the bindings due at the time of asking. */
  private askedAt = -Infinity;

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
  ) {
    // The queue mirrors the registry and the targets set aside for kubelet's calls whether or not the
    // loop runs: `runDueChecks` works without `start`.
    this.queue = new RotationQueue(settings.workers);
    for (const entry of registry.all()) this.track(entry.binding.request.target.path, entry);
    registry.onChange((target, entry) => {
      this.track(target, entry);
      this.wake();
    });
    locks.onRelease((target) => {
      this.queue.release(target);
      this.wake();
    });
  }

  start(): void {
    if (this.started || !this.settings.enabled) return;
    this.started = true;
    this.unsubscribe = [this.classes.onChange((change) => this.classChanged(change)), this.pods.onChange((pod) => this.podChanged(pod))];
    this.wake();
  }

  /** Stops the timer and gives up the checks that run (each stops at its next step). */
  async stop(): Promise<void> {
    this.started = false;
    this.disarmTimer();
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.unsubscribe = [];
    for (const check of this.running.values()) check.controller.abort(new DomainError('Cancelled', 'the rotation loop stopped'));
    await this.dispatching;
    await Promise.all([...this.running.values()].map((check) => check.done));
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

  /**
   * Starts the due checks the pool admits now and resolves once no check runs and none that is due
   * can start: one pass over what is due (tests and benchmarks drive the loop with it).
   */
  async runDueChecks(): Promise<void> {
    if (!this.started) this.askedAt = this.clock.now();
    await this.dispatch();
    if (this.running.size === 0 && this.dispatching === undefined) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Checks running now (for tests and the simulation). */
  get runningChecks(): number {
    return this.running.size;
  }

  /** One dispatch at a time; a request during one runs another right after it. */
  private dispatch(): Promise<void> {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return this.dispatching;
    }
    const now = this.dueTime();
    this.dispatching = (async () => {
      for (let first = true; first || this.dispatchAgain; first = false) {
        this.dispatchAgain = false;
        await this.startAdmittedChecks(first ? now : this.dueTime());
      }
    })()
      .catch((error: unknown) => this.logger.error('rotation dispatch failed', { error: describeError(error) }))
      .finally(() => {
        this.dispatching = undefined;
        this.scheduleTimer();
        this.notifyIfIdle();
      });
    return this.dispatching;
  }

  /** The time against which due times are compared (see `askedAt`). */
  private dueTime(): number {
    return this.started ? this.clock.now() : this.askedAt;
  }

  /** Starts the checks the pool admits, first bringing in those due at `now` and their sharing waves. */
  private async startAdmittedChecks(now: number): Promise<void> {
    await this.openSharingWaves(this.queue.admitDue(now));
    for (let next = this.queue.next(); next !== undefined; next = this.queue.next()) {
      // kubelet holds the target: its release brings the binding back.
      if (this.locks.isHeld(next.id)) {
        this.queue.setAside(next.id);
        continue;
      }
      this.queue.start(next.id);
      this.startCheck(this.registry.get(next.id)!);
    }
  }

  /** Keeps the queue and the sharing groups in step with the registry's entry for `target` (undefined: deleted). */
  private track(target: string, entry: RegisteredBinding | undefined): void {
    const keys = entry && this.keysOf(entry.binding);
    const group = keys?.sharingGroup;
    const previous = this.sharingGroupOf.get(target);
    if (previous !== group) {
      if (previous !== undefined) this.leaveSharingGroup(previous, target);
      if (group !== undefined) {
        this.sharingGroupOf.set(target, group);
        const members = this.sharingGroups.get(group) ?? new Set<string>();
        this.sharingGroups.set(group, members.add(target));
      }
    }
    if (entry === undefined) {
      this.queue.remove(target);
      this.waves.finished(target);
      return;
    }
    this.queue.put({ id: target, provider: keys!.providerName, classKey: keys!.classKey, dueAt: entry.schedule.nextDueAt });
  }

  private keysOf({ providerName, request }: VolumeBinding): QueueKeys {
    const known = this.queueKeys.get(request);
    if (known?.providerName === providerName) return known;
    const keys = { providerName, sharingGroup: sharingCandidate(providerName, request), classKey: `${request.pod.namespace}/${request.className}` };
    this.queueKeys.set(request, keys);
    return keys;
  }

  private leaveSharingGroup(group: string, target: string): void {
    this.sharingGroupOf.delete(target);
    const members = this.sharingGroups.get(group);
    members?.delete(target);
    if (members?.size === 0) this.sharingGroups.delete(group);
  }

  /** Starts one check in its own slot; the slot is given back (and the pool refilled) when it ends. */
  private startCheck(entry: RegisteredBinding): void {
    const target = entry.binding.request.target.path;
    const controller = new AbortController();
    const wave = this.waves.of(target);
    const context: FetchContext = {
      origin: 'rotation',
      signal: controller.signal,
      ...(wave ? { pass: wave.pass } : {}),
      ...(this.settings.callTimeoutMs !== undefined ? { timeoutMs: this.settings.callTimeoutMs } : {}),
    };
    const check = async (): Promise<void> => {
      const current = this.registry.get(target);
      if (current !== undefined) await this.checkNow(current.binding, context);
    };
    const done = this.locks
      .tryRun(target, check, controller)
      .then(
        () => undefined,
        (error: unknown) => this.backOffAfterCrash(target, error),
      )
      .finally(() => {
        this.running.delete(target);
        this.waves.finished(target);
        this.queue.finish(target);
        void this.dispatch();
      });
    this.running.set(target, { controller, done });
  }

  /** A check that threw instead of reporting (a lookup failed): logged, and retried with backoff. */
  private backOffAfterCrash(target: string, error: unknown): void {
    this.logger.error('rotation check failed unexpectedly; it is retried with backoff', { target, error: describeError(error) });
    const entry = this.registry.get(target);
    if (entry === undefined) return;
    const schedule = scheduleAfterFailure(this.settings, entry.intervalMs, entry.schedule, this.clock.now(), () => this.random.next());
    this.registry.put({ ...entry, schedule });
  }

  /**
   * Opens a sharing wave for each binding just due whose class shares fetches (see the class comment):
   * its sharing group's other bindings that are not being checked wait with it from now on.
   */
  private async openSharingWaves(due: readonly WaitingCheck[]): Promise<void> {
    const opening: RegisteredBinding[] = [];
    for (const check of due) {
      const entry = this.registry.get(check.id);
      if (entry === undefined || this.waves.of(check.id) !== undefined) continue;
      const { namespace } = entry.binding.request.pod;
      const shares = this.classSharing.get(check.classKey) ?? (await this.sharesFetches(namespace, entry.binding.request.className));
      if (shares) opening.push(entry);
    }
    for (const entry of opening) {
      const group = this.sharingGroupOf.get(entry.binding.request.target.path);
      if (group === undefined || this.waves.isOpen(group)) continue;
      const members = [...(this.sharingGroups.get(group) ?? [])].filter((target) => !this.running.has(target));
      const dueAt = entry.schedule.nextDueAt;
      this.waves.open(group, members, dueAt);
      for (const target of members) this.queue.pullIn(target, dueAt);
    }
  }

  /** Whether a class opted in to fetch sharing (a class that cannot be read does not), remembered until it changes. */
  private async sharesFetches(namespace: string, className: string): Promise<boolean> {
    const key = `${namespace}/${className}`;
    let spc: SecretProviderClass | undefined;
    try {
      spc = await this.classes.get(namespace, className);
    } catch {
      return false;
    }
    if (spc === undefined) return false;
    const sharing = fetchSharing(spc.annotations);
    if (sharing.problem) this.warnOnce('ignoring class fetch-sharing annotation', spc, sharing.problem);
    this.classSharing.set(key, sharing.enabled);
    return sharing.enabled;
  }

  private record(outcome: RotationOutcome, before: RegisteredBinding | undefined, planner: NextCheckPlan): void {
    if (outcome.kind === 'cancelled') return;
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
    if (plan.problem && spc) this.warnOnce('ignoring class rotation interval', spc, plan.problem);
    this.registry.put({ binding: outcome.binding, schedule: keepEarlierDue(plan.schedule), intervalMs: plan.intervalMs });
    for (const listener of this.outcomeListeners) listener(outcome);
  }

  /** Logs a problem of a class's annotations once per class generation, not on every check of its bindings. */
  private warnOnce(message: string, spc: SecretProviderClass, problem: string): void {
    const key = `${spc.namespace}/${spc.name}`;
    const warning = `${key}@${spc.generation}: ${problem}`;
    if (this.classWarnings.has(warning)) return;
    this.classWarnings.add(warning);
    this.logger.warn(message, { class: key, problem });
  }

  /** On demand: a new `rotate-requested-at` value on a pod makes its bindings due now, once per value. */
  private podChanged(pod: PodInfo): void {
    const now = this.clock.now();
    let requested = false;
    for (const entry of this.registry.all()) {
      if (entry.binding.request.pod.uid !== pod.uid) continue;
      const pending = pendingRotationRequests(entry.schedule, { [podKey(pod)]: pod.annotations });
      if (pending === undefined) continue;
      this.logger.info('rotation requested on the pod', { pod: `${pod.namespace}/${pod.name}`, value: pending[podKey(pod)] });
      const handled = { ...entry.schedule.handledRequests, ...pending };
      this.registry.put({ ...entry, schedule: { ...entry.schedule, nextDueAt: now, handledRequests: handled } });
      requested = true;
    }
    if (requested) void this.dispatch();
  }

  private classChanged(change: ClassChange): void {
    this.classSharing.delete(`${change.namespace}/${change.name}`);
    const now = this.clock.now();
    let changed = false;
    for (const entry of this.registry.ofClass(change.namespace, change.name)) {
      this.registry.put({ ...entry, schedule: { ...entry.schedule, nextDueAt: now } });
      changed = true;
    }
    if (changed) void this.dispatch();
  }

  private wake(): void {
    if (this.started) this.scheduleTimer();
  }

  /**
   * A timer for the next time a check can start: the earliest due time of a binding that is not waiting
   * for a slot, running or set aside (RotationQueue.nextDueAt), held back to the wake window's end
   * (`nextWakeAt`) so that checks falling due one after the other start together. Due bindings left
   * waiting for a slot need none (the end of a running check starts them), nor do those kubelet holds
   * (their release does), nor on-demand requests and class changes (they dispatch at once).
   */
  private scheduleTimer(): void {
    const dueAt = this.started ? this.queue.nextDueAt : undefined;
    const wakeAt = dueAt === undefined ? undefined : nextWakeAt(this.settings, dueAt, this.lastWakeAt);
    if (wakeAt !== undefined && wakeAt === this.timerAt) return; // the armed timer stands
    this.disarmTimer();
    if (wakeAt === undefined) return;
    this.timerAt = wakeAt;
    this.cancelTimer = this.scheduler.after(Math.max(0, wakeAt - this.clock.now()), () => {
      this.cancelTimer = undefined;
      this.timerAt = undefined;
      this.lastWakeAt = this.clock.now();
      void this.dispatch();
    });
  }

  private disarmTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = undefined;
  }

  private notifyIfIdle(): void {
    if (this.running.size > 0 || this.dispatching !== undefined) return;
    // Read again for the next checks: class changes are heard only while the loop runs.
    this.classSharing.clear();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function podKey(pod: { readonly namespace: string; readonly name: string }): string {
  return `pod:${pod.namespace}/${pod.name}`;
}

function podRequests(pod: PodInfo): StringMap {
  const value = pod.annotations[RotationAnnotation.rotateRequestedAt];
  return value ? { [podKey(pod)]: value } : {};
}
