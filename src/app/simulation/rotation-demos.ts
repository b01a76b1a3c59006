import type { FakePod } from '../../adapters/fake-kubelet/fake-kubelet.js';
import type { FakeProviderControls } from '../../adapters/fake-provider/fake-provider-server.js';
import type { PodStatusResource } from '../../adapters/kube-objects/object-shapes.js';
import type { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import type { RotationOutcome } from '../../application/rotate-binding.js';
import { formatDuration } from '../../domain/duration.js';
import { podStatusName } from '../../domain/pod-status.js';
import { RotationAnnotation } from '../../domain/rotation-policy.js';
import type { Clock } from '../../ports/clock.js';
import { demoDurations, immediateCheckWithinMs, scheduledCheckWithinMs, type CheckTiming } from './check-timing.js';
import type { Narrator } from './narrator.js';
import type { RotationWatch } from './rotation-watch.js';
import type { StoreChanges } from './store-changes.js';
import { CLASS_OBJECTS, PROVIDER } from './world.js';

export interface DemoContext {
  readonly cluster: InMemoryCluster;
  readonly provider: FakeProviderControls;
  readonly store: StoreChanges;
  readonly watch: RotationWatch;
  readonly narrator: Narrator;
  readonly clock: Clock;
  readonly timing: CheckTiming;
  /** Where the fake kubelet mounted each pod's volume. */
  readonly targetOf: (pod: FakePod) => string;
  /** When the rotation loop will next check the pod's mount (epoch ms), if it knows the mount. */
  readonly dueAt: (pod: FakePod) => number | undefined;
  /** When the run ends (Infinity until Ctrl-C): a demonstration that cannot finish by then is skipped. */
  readonly endsAt: number;
  readonly signal: AbortSignal;
}

/**
 * Right after a scheduled check of `pod`, changes its first object in the store and sets the pod's
 * `rotate-requested-at` annotation: the pod's schedule cannot bring the change for most of an interval,
 * so the rotation that follows comes from the request; its latency is measured from the request.
 */
export async function demonstrateOnDemandRotation(ctx: DemoContext, pod: FakePod): Promise<void> {
  const subject = `${pod.namespace}/${pod.name}`;
  if (!fitsBeforeEnd(ctx, 'on-demand rotation', demoDurations(ctx.timing).onDemandMs)) return;
  const scheduledWithinMs = withLoad(ctx, scheduledCheckWithinMs(ctx.timing));
  const previous = await ctx.watch.nextCheck(pod, isSettled, scheduledWithinMs, ctx.signal);
  if (ctx.signal.aborted) return;
  if (previous === undefined) return ctx.narrator.problem(subject, `no rotation check within ${formatDuration(scheduledWithinMs)}`);
  const answerWithinMs = withLoad(ctx, immediateCheckWithinMs(ctx.timing));
  const answered = ctx.watch.nextCheck(pod, () => true, answerWithinMs, ctx.signal);
  ctx.store.change(CLASS_OBJECTS[classOf(pod)]![0]!);
  const requestedAt = ctx.clock.now();
  const value = new Date(requestedAt).toISOString();
  const resource = ctx.cluster.get('Pod', pod.namespace, pod.name)!;
  resource.metadata.annotations = { ...resource.metadata.annotations, [RotationAnnotation.rotateRequestedAt]: value };
  ctx.cluster.update(resource);
  ctx.narrator.onDemandRequested(subject, value);
  const answer = await answered;
  if (ctx.signal.aborted) return;
  if (answer === undefined) return ctx.narrator.problem(subject, `on demand: no check within ${formatDuration(answerWithinMs)} of the request`);
  const scheduledAt = previous.at + ctx.timing.intervalMs * (1 - ctx.timing.jitterFraction);
  ctx.narrator.onDemandAnswered(answer.outcome, answer.at - requestedAt, scheduledAt - requestedAt);
}

/**
 * Makes every provider call fail (UNAVAILABLE) while one of `pod`'s objects changes in the store, until
 * each of `pods` had a failed check: the checks keep the files as they were (from now on, every failed
 * check is verified to leave them so) and `pod`'s status shows `lastRotationError`. Once the provider
 * answers again, `pod`'s next check (due when its status says) rotates and clears the error.
 */
export async function demonstrateProviderOutage(ctx: DemoContext, pod: FakePod, pods: readonly FakePod[]): Promise<void> {
  const subject = `${pod.namespace}/${pod.name}`;
  const className = classOf(pod);
  if (!fitsBeforeEnd(ctx, 'provider outage', demoDurations(ctx.timing).outageMs)) return;
  const stallMs = (): number => withLoad(ctx, scheduledCheckWithinMs(ctx.timing));
  await ctx.watch.freezeFiles(pods.map(ctx.targetOf));
  try {
    const failures = ctx.watch.checksOf(pods, (outcome) => outcome.kind === 'failed', stallMs, ctx.signal, (failed) => {
      if (failed !== pod) return;
      const error = podStatus(ctx, pod, className)?.lastRotationError;
      if (error === undefined) ctx.narrator.problem(subject, 'pod status has no lastRotationError after a failed check');
      else ctx.narrator.line('status', subject, `lastRotationError: ${error}`);
    });
    ctx.provider.setFailure({ grpcStatus: 'UNAVAILABLE' });
    ctx.narrator.line('outage', `provider ${PROVIDER}`, 'down: every Mount call fails with UNAVAILABLE until each pod had a failed check');
    ctx.store.change(CLASS_OBJECTS[className]![0]!);
    const failed = await failures;
    if (ctx.signal.aborted) return;
    const missed = pods.filter((each) => !failed.has(each)).map((each) => `${each.namespace}/${each.name}`);
    if (missed.length > 0) return ctx.narrator.problem(missed.join(', '), `no failed check within ${formatDuration(stallMs())} of the one before`);
    const recoverWithinMs = nextCheckWithinMs(ctx, pod);
    const recovered = ctx.watch.nextCheck(pod, isSettled, recoverWithinMs, ctx.signal);
    ctx.provider.clearFailure();
    ctx.narrator.line('outage', `provider ${PROVIDER}`, 'up again: Mount calls answer');
    const next = await recovered;
    if (ctx.signal.aborted) return;
    if (next === undefined) return ctx.narrator.problem(subject, `no successful check within ${formatDuration(recoverWithinMs)} after the outage`);
    const left = podStatus(ctx, pod, className)?.lastRotationError;
    if (left !== undefined) return ctx.narrator.problem(subject, `lastRotationError still set after a successful check: ${left}`);
    ctx.narrator.line('status', subject, `lastRotationError cleared by the next check (${next.outcome.kind})`);
  } finally {
    ctx.provider.clearFailure();
  }
}

/** How long `pod`'s next check may take to come: when the rotation loop has it due (after a failure, its backoff), then its turn for a worker. */
function nextCheckWithinMs(ctx: DemoContext, pod: FakePod): number {
  const dueAt = ctx.dueAt(pod);
  const dueInMs = dueAt === undefined ? scheduledCheckWithinMs(ctx.timing) : Math.max(0, dueAt - ctx.clock.now());
  return withLoad(ctx, dueInMs + immediateCheckWithinMs(ctx.timing));
}

/**
 * A wait the configuration allows, lengthened by twice the lateness checks of this run have shown: on a
 * loaded machine every check comes later than its schedule, and the step waits for it rather than fail.
 */
function withLoad(ctx: DemoContext, allowedMs: number): number {
  return Math.round(allowedMs + 2 * ctx.watch.observedLatenessMs);
}

function fitsBeforeEnd(ctx: DemoContext, what: string, needsMs: number): boolean {
  const leftMs = ctx.endsAt - ctx.clock.now();
  if (leftMs >= needsMs) return true;
  const needs = formatDuration(Math.ceil(needsMs / 100) * 100);
  const left = formatDuration(Math.max(0, Math.floor(leftMs / 100) * 100));
  ctx.narrator.line('skipped', what, `needs up to ${needs}, ${left} left: run with a longer --duration to see it`);
  return false;
}

/** A check that reached the provider and came back with an answer (the pod's schedule restarts from it). */
function isSettled(outcome: RotationOutcome): boolean {
  return outcome.kind === 'rotated' || outcome.kind === 'unchanged';
}

function classOf(pod: FakePod): string {
  return pod.volumes[0]!.volumeAttributes['secretProviderClass']!;
}

function podStatus(ctx: DemoContext, pod: FakePod, className: string): PodStatusResource['status'] {
  return ctx.cluster.get('SecretProviderClassPodStatus', pod.namespace, podStatusName(pod.name, pod.namespace, className))?.status;
}
