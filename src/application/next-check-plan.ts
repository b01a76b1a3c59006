import {
  effectiveInterval,
  RotationAnnotation,
  scheduleAfterFailure,
  scheduleAfterSuccess,
  type BindingSchedule,
  type RotationSettings,
} from '../domain/rotation-policy.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import type { StringMap } from '../domain/volume-binding.js';
import type { RegisteredBinding } from './binding-registry.js';

export interface PlannedCheck {
  readonly schedule: BindingSchedule;
  readonly intervalMs: number;
  /** Why the class's interval annotation was not taken as given, when it was not. */
  readonly problem?: string;
}

/** The class's `rotate-requested-at` value, keyed as the schedule remembers it. */
export function handledRequests(spc: SecretProviderClass): StringMap {
  const value = spc.annotations[RotationAnnotation.rotateRequestedAt];
  return value ? { [`class:${spc.namespace}/${spc.name}`]: value } : {};
}

/**
 * The next due time of a binding being checked, fixed once per way the check can end, so the time the
 * pod status reports is the time the loop then keeps.
 */
export class NextCheckPlan {
  private readonly plans = new Map<boolean, PlannedCheck>();

  constructor(
    private readonly settings: RotationSettings,
    private readonly entry: RegisteredBinding | undefined,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  readonly nextCheckAt = ({ failed, spc }: { readonly failed: boolean; readonly spc?: SecretProviderClass }): number =>
    this.plan(failed, spc).schedule.nextDueAt;

  plan(failed: boolean, spc: SecretProviderClass | undefined): PlannedCheck {
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
