import { parseDuration } from './duration.js';
import { isDomainError } from './errors.js';
import type { StringMap } from './volume-binding.js';

/** Class (and pod) annotations that steer rotation. */
export const RotationAnnotation = {
  pollInterval: 'secrets-store.csi.k8s.io/rotation-poll-interval',
  rotateRequestedAt: 'secrets-store.csi.k8s.io/rotate-requested-at',
} as const;

export interface RotationSettings {
  /** `--rotation-poll-interval`: the default time between two checks of one binding. */
  readonly intervalMs: number;
  /** `--min-rotation-poll-interval`: the lower bound of a class's own interval (not of the global flag). */
  readonly minClassIntervalMs: number;
  /** Fraction of the interval by which a due time is moved earlier or later at random (0.1 = +/-10%). */
  readonly jitterFraction: number;
  /** First retry delay after a failure; doubles with each further failure up to `failureBackoffCap`. */
  readonly backoffBaseMs: number;
}

/** What the rotation loop remembers about one binding between checks. */
export interface BindingSchedule {
  readonly nextDueAt: number;
  readonly consecutiveFailures: number;
  /** The last `rotate-requested-at` values acted upon, by the object that carried them. */
  readonly handledRequests: StringMap;
}

export interface EffectiveInterval {
  readonly intervalMs: number;
  /** Why the class annotation was not taken as given, when it was not. */
  readonly problem?: string;
}

/** A random source in [0, 1), injected so schedules are deterministic in tests. */
export type RandomSource = () => number;

/** The interval for one class: its annotation when valid (bounded below), else the global interval. */
export function effectiveInterval(settings: RotationSettings, classAnnotations: StringMap): EffectiveInterval {
  const raw = classAnnotations[RotationAnnotation.pollInterval];
  if (raw === undefined || raw.trim() === '') return { intervalMs: settings.intervalMs };
  let parsed: number;
  try {
    parsed = parseDuration(raw);
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return { intervalMs: settings.intervalMs, problem: `${RotationAnnotation.pollInterval}: ${error.message}` };
  }
  if (parsed < settings.minClassIntervalMs) {
    return {
      intervalMs: settings.minClassIntervalMs,
      problem: `${RotationAnnotation.pollInterval} "${raw}" is below the minimum; using the minimum`,
    };
  }
  return { intervalMs: parsed };
}

/** The part of a delay that jitter may move it by (the fraction bounded to 0..1). */
function jitterSpread(delayMs: number, jitterFraction: number): number {
  return delayMs * Math.max(0, Math.min(1, jitterFraction));
}

/** Moves a delay by up to +/- jitterFraction of itself. */
export function jittered(delayMs: number, jitterFraction: number, random: RandomSource): number {
  const spread = jitterSpread(delayMs, jitterFraction);
  return Math.max(0, Math.round(delayMs - spread + 2 * spread * random()));
}

/** The schedule of a binding that was just mounted or checked successfully. */
export function scheduleAfterSuccess(
  settings: RotationSettings,
  intervalMs: number,
  now: number,
  random: RandomSource,
  handledRequests: StringMap = {},
): BindingSchedule {
  return {
    nextDueAt: now + jittered(intervalMs, settings.jitterFraction, random),
    consecutiveFailures: 0,
    handledRequests,
  };
}

/**
 * The schedule of a binding adopted after a driver restart: its mount may have missed checks while the
 * driver was down, so the first check comes soon, at a random point within jitterFraction of the
 * interval, so a restart does not send every mount of the node to its provider at once.
 */
export function scheduleAfterRestart(
  settings: RotationSettings,
  intervalMs: number,
  now: number,
  random: RandomSource,
  handledRequests: StringMap = {},
): BindingSchedule {
  return { nextDueAt: now + Math.round(jitterSpread(intervalMs, settings.jitterFraction) * random()), consecutiveFailures: 0, handledRequests };
}

/** A failing binding's retries stretch to ten intervals ... */
export const FAILURE_BACKOFF_INTERVALS = 10;
/** ... but never beyond ten minutes (unless the interval itself is longer). */
export const FAILURE_BACKOFF_CEILING_MS = 600_000;

/**
 * The longest wait between two checks of a failing binding: ten intervals, at most ten minutes, and
 * never less than the interval. A provider that hangs or fails then costs its workers ever more
 * rarely instead of taking them back after each interval, and a short interval still retries soon.
 */
export function failureBackoffCap(intervalMs: number): number {
  return Math.max(intervalMs, Math.min(FAILURE_BACKOFF_INTERVALS * intervalMs, FAILURE_BACKOFF_CEILING_MS));
}

/** Exponential backoff with jitter after a failed check, up to `failureBackoffCap` of the interval. */
export function scheduleAfterFailure(
  settings: RotationSettings,
  intervalMs: number,
  previous: BindingSchedule,
  now: number,
  random: RandomSource,
  handledRequests: StringMap = previous.handledRequests,
): BindingSchedule {
  const failures = previous.consecutiveFailures + 1;
  const cap = failureBackoffCap(intervalMs);
  const backoff = Math.min(cap, settings.backoffBaseMs * 2 ** Math.min(failures - 1, 30));
  return {
    nextDueAt: now + Math.min(cap, jittered(backoff, settings.jitterFraction, random)),
    consecutiveFailures: failures,
    handledRequests,
  };
}

export function isDue(schedule: BindingSchedule, now: number): boolean {
  return now >= schedule.nextDueAt;
}

/** The longest the loop's timer holds a due check back to run it with others: see `nextWakeAt`. */
export const MAX_WAKE_WINDOW_MS = 1_000;

/**
 * When the rotation loop's timer should next wake the process, given the earliest due time and its
 * last wake-up: at most once per window, so the checks of a node that fall due one after the other
 * run together in one wake-up instead of each waking the process on its own (a check woken alone
 * cost about twice the CPU of one started with others). The window is a fifth of the shortest interval
 * a binding can have, at most 1 s: a check starts at most that long after its due time.
 */
export function nextWakeAt(settings: RotationSettings, earliestDueAt: number, lastWakeAt: number): number {
  const window = Math.min(MAX_WAKE_WINDOW_MS, Math.floor(settings.minClassIntervalMs / 5));
  return Math.max(earliestDueAt, lastWakeAt + window);
}

/**
 * On-demand rotation: each object (class or pod) that carries a `rotate-requested-at` value different
 * from the one last acted upon asks for a rotation now. Returns the values to remember once acted upon,
 * or undefined when nothing new was requested.
 */
export function pendingRotationRequests(
  schedule: BindingSchedule,
  annotationsByObject: Readonly<Record<string, StringMap>>,
): StringMap | undefined {
  const current: Record<string, string> = {};
  let changed = false;
  for (const [object, annotations] of Object.entries(annotationsByObject)) {
    const value = annotations[RotationAnnotation.rotateRequestedAt];
    if (value === undefined || value === '') continue;
    current[object] = value;
    if (schedule.handledRequests[object] !== value) changed = true;
  }
  return changed ? current : undefined;
}

/**
 * Why a rotation check was not made (the label value of `rotation_skipped_total{reason}`): the pod
 * is finished or terminating, or a kubelet republish came before the binding was due (or with
 * rotation disabled).
 */
export type RotationSkipReason = 'PodTerminating' | 'PodSucceeded' | 'PodFailed' | 'NotDue' | 'RotationDisabled';

/** Why a pod's mounts are not rotated, or undefined when they are: finished or terminating pods are left alone. */
export function rotationSkipReason(pod: { readonly phase: string; readonly terminating: boolean }): RotationSkipReason | undefined {
  if (pod.terminating) return 'PodTerminating';
  if (pod.phase === 'Succeeded') return 'PodSucceeded';
  if (pod.phase === 'Failed') return 'PodFailed';
  return undefined;
}
