import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventResource, PodStatusResource, SecretProviderClassResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { EventReason, type EventReasonName } from '../../src/domain/events.js';
import { podStatusName } from '../../src/domain/pod-status.js';
import { RotationAnnotation } from '../../src/domain/rotation-policy.js';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import { classObject, eventually, KubeDriverEnv } from './kube-driver-env.js';
import { sleep } from './processes.js';

const CLASS = 'rotating';
const POD = 'app-0';
/** A class's own interval in the scenarios that wait for the schedule. */
const CLASS_INTERVAL = { text: '2s', ms: 2_000 };
const JITTER = 0.1;
/**
 * How long a wait for a rotation may take. The driver's default interval is an hour, so a rotation seen
 * within this came from the trigger under test (a class's 2s interval, a class change, a new
 * rotate-requested-at, a restart); the figures themselves (on-demand p99 <= 1 s ...) are bench/'s to
 * measure, so the deadline leaves room for a loaded CI machine.
 */
const ROTATION_DEADLINE_MS = 15_000;
/** How long the driver stays down in the restart scenario: longer than a scheduled check would take. */
const DOWN_MS = CLASS_INTERVAL.ms * (1 + JITTER) + 1_000;
/** Long enough for a check that should not happen to have shown itself. */
const QUIET_MS = 2_500;
/** What a new driver process logs once it has gone through the mounts of its node: here the one live mount, taken over. */
const RECOVERY_SUMMARY = /^\S+ INFO\s+restart recovery done\b[^\n]* recovered=1\b/m;

interface MountedPod {
  readonly namespace: string;
  readonly uid: string;
  readonly target: string;
  readonly statusName: string;
}

/**
 * The rotation engine on a real kube-apiserver: the driver process (its ServiceAccount, deploy/rbac
 * only), the fake provider process steered through its control endpoint, and the pod-watching fake
 * kubelet, which publishes each pod once and never republishes (the CSIDriver has no
 * requiresRepublish here). The driver's default interval is an hour, so every rotation below has
 * exactly the trigger the test pulls: a class's own short interval, a class change, a
 * rotate-requested-at value, or a new driver process after a restart.
 */
describe('e2e: rotation triggers of driver --cluster kubernetes on a real API server', function () {
  this.timeout(120_000);
  // Flags given twice take their last value: these come after KubeDriverEnv's own.
  // The CSIDriver without requiresRepublish: kubelet publishes each pod once, so every rotation seen is the driver's own.
  const env = new KubeDriverEnv(['--rotation-poll-interval', '1h', '--min-rotation-poll-interval', '1s', '--rotation-jitter', String(JITTER)], {
    csiDriver: { requiresRepublish: false },
  });
  /** Pods a test mounted and has not removed yet: afterEach removes them, so no test sees another's checks. */
  const live: MountedPod[] = [];

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    await env.start(binaries);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(env.logs());
    if (env.driver === undefined) return;
    if (!env.driver.running) await env.startDriver();
    await env.providerFailure(undefined);
    for (const pod of [...live]) await removePod(pod);
  });

  after(async () => {
    await env.dispose();
  });

  function rotatingClass(namespace: string, objects: readonly string[], annotations: Record<string, string> = {}): SecretProviderClassResource {
    const spc = classObject(namespace, CLASS, objects);
    return { ...spc, metadata: { ...spc.metadata, annotations } };
  }

  /** A namespace with the class (objects, annotations) and one pod on node-1 using it, mounted by the kubelet. */
  async function mountedPod(prefix: string, objects: readonly string[], classAnnotations: Record<string, string> = {}): Promise<MountedPod> {
    const namespace = await env.createNamespace(prefix);
    await env.admin.putClass(rotatingClass(namespace, objects, classAnnotations));
    const uid = (await env.createPod(namespace, POD, { className: CLASS })).metadata!.uid!;
    const pod = { namespace, uid, target: await env.waitMounted(uid), statusName: podStatusName(POD, namespace, CLASS) };
    live.push(pod);
    expect(await env.files(pod.target)).to.deep.equal(Object.fromEntries(objects.map((object) => [object, `${object}-v1`])));
    return pod;
  }

  /** Deletes the pod (gracefully, as a user would) and waits until the kubelet has torn it down and confirmed it. */
  async function removePod(pod: MountedPod): Promise<void> {
    if (live.includes(pod)) live.splice(live.indexOf(pod), 1);
    await env.core.deleteNamespacedPod({ namespace: pod.namespace, name: POD });
    await eventually(async () => {
      expect(env.kubelet!.podUids()).not.to.include(pod.uid);
      expect(await env.podExists(pod.namespace, POD)).to.equal(false);
    }, 30_000, 100).catch(env.withLogs);
  }

  async function podEvents(pod: MountedPod, reason: EventReasonName): Promise<EventResource[]> {
    return (await env.events(pod.namespace, reason)).filter((event) => event.involvedObject.uid === pod.uid);
  }

  /** How often the event was recorded on the pod (a repeat bumps `count` of the same Event). */
  async function eventCount(pod: MountedPod, reason: EventReasonName): Promise<number> {
    return (await podEvents(pod, reason)).reduce((sum, event) => sum + (event.count ?? 1), 0);
  }

  async function podStatus(pod: MountedPod): Promise<NonNullable<PodStatusResource['status']>> {
    const status = await env.readPodStatus(pod.namespace, pod.statusName);
    expect(status?.status, `pod status ${pod.statusName}`).not.to.equal(undefined);
    return status!.status!;
  }

  /** When the driver last wrote the pod status (whole seconds, from the server's managedFields). */
  async function lastWriteTime(pod: MountedPod): Promise<number> {
    const stored = await env.readPodStatus(pod.namespace, pod.statusName);
    const { managedFields } = stored!.metadata as { managedFields?: { time?: string }[] };
    const times = (managedFields ?? []).map((entry) => Date.parse(entry.time ?? ''));
    expect(times, 'managedFields times').not.to.deep.equal([]);
    return Math.max(...times);
  }

  async function expectFileWithin(pod: MountedPod, object: string, contents: string, timeoutMs: number): Promise<void> {
    await eventually(async () => expect(await readFile(join(pod.target, object), 'utf8'), `${object} within ${timeoutMs} ms`).to.equal(contents), timeoutMs, 25).catch(env.withLogs);
  }

  /** Sampled for `ms`: the target stays a mount and holds exactly `files`. */
  async function expectFilesStay(pod: MountedPod, files: Record<string, string>, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      expect(env.mounts()).to.include(pod.target);
      expect(await env.files(pod.target)).to.deep.equal(files);
      await sleep(100);
    }
  }

  /** Sampled for `ms`: the files stay, and no check happens (the provider gets no Mount call, no rotation event). */
  async function expectNoCheckFor(pod: MountedPod, files: Record<string, string>, ms: number): Promise<void> {
    const calls = (await env.providerState()).mountCount;
    const rotations = await eventCount(pod, EventReason.mountRotationComplete);
    await expectFilesStay(pod, files, ms);
    expect((await env.providerState()).mountCount, 'provider Mount calls').to.equal(calls);
    expect(await eventCount(pod, EventReason.mountRotationComplete), 'MountRotationComplete events').to.equal(rotations);
  }

  it('on schedule: with a class interval of 2s (the default is 1h) a store change reaches the file, with MountRotationComplete and the rotation times in the pod status', async () => {
    const OBJECT = 'scheduled-token';
    const pod = await mountedPod('scheduled', [OBJECT], { [RotationAnnotation.pollInterval]: CLASS_INTERVAL.text });
    const changedAt = Date.now();
    expect(await env.rotate(OBJECT)).to.equal('v2');
    await expectFileWithin(pod, OBJECT, `${OBJECT}-v2`, ROTATION_DEADLINE_MS);

    await eventually(async () => {
      const [event, ...more] = await podEvents(pod, EventReason.mountRotationComplete);
      expect(more, 'one rotation').to.deep.equal([]);
      expect(event?.type).to.equal('Normal');
      expect(event?.count ?? 1).to.equal(1);
      const status = await podStatus(pod);
      expect(status.objects).to.deep.equal([{ id: OBJECT, version: 'v2' }]);
      expect(status.lastRotationError, 'lastRotationError').to.equal(undefined);
      const last = Date.parse(status.lastRotationTime ?? '');
      const next = Date.parse(status.nextRotationTime ?? '');
      // Kubernetes times have whole seconds.
      expect(last, `lastRotationTime ${status.lastRotationTime}`).to.be.within(Math.floor(changedAt / 1000) * 1000, Date.now());
      expect(next - last, `nextRotationTime ${status.nextRotationTime} after lastRotationTime: the class's interval`).to.be.within(
        CLASS_INTERVAL.ms * (1 - JITTER) - 1_000,
        CLASS_INTERVAL.ms * (1 + JITTER) + 1_000,
      );
      expect(next, 'nextRotationTime in the future when the status was written').to.be.greaterThan(await lastWriteTime(pod));
    }, 10_000, 100).catch(env.withLogs);
  });

  it('a class change: adding an object to a class on the 1h default interval mounts its file without waiting for the interval', async () => {
    const [FIRST, ADDED] = ['edited-first', 'edited-added'];
    const pod = await mountedPod('class-edit', [FIRST]);
    await env.admin.putClass(rotatingClass(pod.namespace, [FIRST, ADDED]));
    await expectFileWithin(pod, ADDED, `${ADDED}-v1`, ROTATION_DEADLINE_MS);
    expect(await env.files(pod.target)).to.deep.equal({ [FIRST]: `${FIRST}-v1`, [ADDED]: `${ADDED}-v1` });
    await eventually(async () => {
      expect((await podStatus(pod)).objects).to.deep.equal([
        { id: ADDED, version: 'v1' },
        { id: FIRST, version: 'v1' },
      ]);
    }, 10_000, 100).catch(env.withLogs);
  });

  it('on demand: a new rotate-requested-at on the pod, then on the class, rotates at once; the same values again do not', async () => {
    const OBJECT = 'on-demand-key';
    const REQUESTED = RotationAnnotation.rotateRequestedAt;
    const pod = await mountedPod('on-demand', [OBJECT]);
    expect(await env.rotate(OBJECT)).to.equal('v2');
    // The class has the 1h default: the store change alone is not noticed.
    await expectNoCheckFor(pod, { [OBJECT]: `${OBJECT}-v1` }, QUIET_MS);

    await env.annotatePod(pod.namespace, POD, { [REQUESTED]: '2025-01-01T00:00:00Z' });
    await expectFileWithin(pod, OBJECT, `${OBJECT}-v2`, ROTATION_DEADLINE_MS);

    expect(await env.rotate(OBJECT)).to.equal('v3');
    await env.annotateClass(pod.namespace, CLASS, { [REQUESTED]: 'class-request-1' });
    await expectFileWithin(pod, OBJECT, `${OBJECT}-v3`, ROTATION_DEADLINE_MS);
    await eventually(async () => {
      expect(await eventCount(pod, EventReason.mountRotationComplete)).to.equal(2);
      expect((await podStatus(pod)).objects).to.deep.equal([{ id: OBJECT, version: 'v3' }]);
    }, 10_000, 100).catch(env.withLogs);

    // The same values again: the pod changes otherwise (the driver's watch sees it), the class is
    // annotated as it already is; neither asks for another check.
    expect(await env.rotate(OBJECT)).to.equal('v4');
    await env.annotatePod(pod.namespace, POD, { [REQUESTED]: '2025-01-01T00:00:00Z', 'example.com/touched': 'yes' });
    await env.annotateClass(pod.namespace, CLASS, { [REQUESTED]: 'class-request-1' });
    await expectNoCheckFor(pod, { [OBJECT]: `${OBJECT}-v3` }, QUIET_MS);
  });

  it('a provider outage: the files stay byte for byte, MountRotationFailed and lastRotationError tell why; back, the next check rotates and clears the error', async () => {
    const OBJECT = 'outage-cert';
    const MOUNTED = `${OBJECT}-v1`;
    const ROTATED = 'outage-cert-rotated-material-5b1e9c';
    const REQUESTED = RotationAnnotation.rotateRequestedAt;
    const pod = await mountedPod('outage', [OBJECT]);
    const mountedBytes = await readFile(join(pod.target, OBJECT));
    expect(await env.rotate(OBJECT, ROTATED)).to.equal('v2');
    await env.providerFailure({ grpcStatus: 'UNAVAILABLE' });

    await env.annotatePod(pod.namespace, POD, { [REQUESTED]: 'outage-1' });
    const failure = await eventually(async () => {
      const [event, ...more] = await podEvents(pod, EventReason.mountRotationFailed);
      expect(more, 'repeats bump the count of one Event').to.deep.equal([]);
      expect(event?.type).to.equal('Warning');
      expect(event?.message).to.match(/^failed to rotate mounted contents: provider "fake" .*unavailable/);
      const status = await podStatus(pod);
      expect(status.lastRotationError, 'lastRotationError').to.match(/unavailable/);
      expect(status.objects).to.deep.equal([{ id: OBJECT, version: 'v1' }]);
      return { event: event!.message!, status: status.lastRotationError! };
    }, 10_000, 100).catch(env.withLogs);
    for (const text of [failure.event, failure.status]) {
      expect(text).not.to.include(MOUNTED);
      expect(text).not.to.include(ROTATED);
    }
    // The backoff retries keep failing (1 s, 2 s ...): the mount stays exactly as it was.
    await expectFilesStay(pod, { [OBJECT]: MOUNTED }, QUIET_MS);
    expect((await readFile(join(pod.target, OBJECT))).equals(mountedBytes), 'the mounted bytes').to.equal(true);

    await env.providerFailure(undefined);
    await env.annotatePod(pod.namespace, POD, { [REQUESTED]: 'outage-2' });
    await expectFileWithin(pod, OBJECT, ROTATED, ROTATION_DEADLINE_MS);
    await eventually(async () => {
      const status = await podStatus(pod);
      expect(status.objects).to.deep.equal([{ id: OBJECT, version: 'v2' }]);
      expect(status.lastRotationError, 'lastRotationError after a check that succeeded').to.equal(undefined);
      expect(status.lastRotationTime, 'lastRotationTime').to.be.a('string');
      expect(await eventCount(pod, EventReason.mountRotationComplete)).to.equal(1);
    }, 10_000, 100).catch(env.withLogs);
  });

  it('a driver restart: the mount stays while the driver is down; the new process takes it over and rotates it without a kubelet call; kubelet\'s unpublish still works', async () => {
    const OBJECT = 'restart-secret';
    const pod = await mountedPod('restart', [OBJECT], { [RotationAnnotation.pollInterval]: CLASS_INTERVAL.text });
    const kubeletCalls = (): string[] => env.kubelet!.journal.filter((entry) => entry.podUid === pod.uid).map((entry) => `${entry.op}:${entry.ok}`);

    expect(await env.stopDriver()).to.deep.equal({ code: 0, signal: null });
    expect(await env.rotate(OBJECT)).to.equal('v2');
    // Down for longer than the class interval: the mount stays readable, and nothing rotates it.
    await expectFilesStay(pod, { [OBJECT]: `${OBJECT}-v1` }, DOWN_MS);

    await env.startDriver();
    await expectFileWithin(pod, OBJECT, `${OBJECT}-v2`, ROTATION_DEADLINE_MS);
    await eventually(async () => {
      expect((await podStatus(pod)).objects).to.deep.equal([{ id: OBJECT, version: 'v2' }]);
      expect(await eventCount(pod, EventReason.mountRotationComplete)).to.equal(1);
    }, 10_000, 100).catch(env.withLogs);
    expect(env.driver!.stderr, 'recovery summary of the new driver process').to.match(RECOVERY_SUMMARY);
    expect(env.driver!.stderr).not.to.match(/cannot resume rotation/);
    // The kubelet does not republish (no requiresRepublish): the new process found the mount itself.
    expect(kubeletCalls()).to.deep.equal(['publish:true']);

    await removePod(pod);
    expect(kubeletCalls(), env.logs()).to.deep.equal(['publish:true', 'unpublish:true', 'finalize:true']);
    expect(env.mounts()).not.to.include(pod.target);
    expect(env.driver!.stderr).not.to.match(/^\S+ ERROR /m);
    expect(env.driver!.stderr).not.to.match(/forbidden/i);
  });
});
