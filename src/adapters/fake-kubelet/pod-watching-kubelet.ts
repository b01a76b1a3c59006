import type { PodIdentity, PublishCommand, StringMap } from '../../domain/volume-binding.js';
import type { Logger } from '../../ports/logger.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';
import type { CsiVolumeSourceShape, PodResource } from '../kube-objects/object-shapes.js';
import type { CsiDriverShape, PodFeed, PodFeedEvent } from '../kube-objects/pod-feed.js';
import { KubeletTokenCache } from './kubelet-token-cache.js';
import {
  DRIVER_NAME,
  prepareVolumeDir,
  publishCommand,
  removePodDirs,
  removeVolumeDir,
  targetPath,
  volumeId,
  type InlineVolume,
} from './kubelet-volume.js';

/** gRPC codes kubelet treats as "the operation may still be in progress" (the volume is then uncertain). */
const NON_FINAL_CODES = new Set(['CANCELLED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ABORTED']);

/** kubelet's volume-operation backoff: 500 ms, doubling, capped at 2 min 2 s. */
const KUBELET_INITIAL_DELAY_MS = 500;
const KUBELET_MAX_DELAY_MS = 122_000;
/** kubelet's default syncFrequency; each resync comes after it plus up to half of it again. */
const KUBELET_SYNC_FREQUENCY_MS = 60_000;
const RESYNC_JITTER = 0.5;
/** The sync that follows a pod's start (the runtime reports its containers started): 0.5-1.5 s later. */
const FIRST_RESYNC_MIN_MS = 500;
const FIRST_RESYNC_SPREAD_MS = 1_000;

export interface PodWatchingKubeletOptions {
  /** Where the kubelet learns its node's pods, Secrets, CSIDriver and tokens, and reports events. */
  readonly feed: PodFeed;
  /** The driver, usually a KubeletCsiClient on its socket. */
  readonly volumes: NodeVolumes;
  readonly kubeletRoot: string;
  readonly driverName?: string;
  /** First retry delay of a failed volume operation; doubles per failure up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** kubelet's syncFrequency (default 1 min): a running pod is synced again after it, plus up to half of it again. */
  readonly syncFrequencyMs?: number;
  /** When the sync that follows a pod's start comes, after its volumes are mounted (default 0.5-1.5 s, at random). */
  readonly firstResyncMs?: () => number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

/**
 * mounted: published; uncertain: the last publish failed with a non-final code (it may have mounted);
 * failed: the last publish failed with a final code (nothing mounted); pending: not tried yet, or
 * kubelet gave up before calling the driver (no CSIDriver, an unreadable Secret or token).
 */
export type VolumePhase = 'pending' | 'mounted' | 'uncertain' | 'failed';

export interface VolumeSnapshot {
  readonly phase: VolumePhase;
  readonly attempts: number;
  /** The gRPC status name of the last failure (e.g. FAILED_PRECONDITION), or `kubelet` for one before the call. */
  readonly lastErrorCode?: string;
  readonly lastError?: string;
  readonly targetPath: string;
}

/** What the kubelet did, in order (tests read it to see the calls it made). */
export interface JournalEntry {
  readonly op: 'publish' | 'republish' | 'unpublish' | 'finalize';
  readonly podUid: string;
  readonly volume?: string;
  readonly ok: boolean;
  readonly code?: string;
}

interface VolumeState {
  readonly name: string;
  readonly source: CsiVolumeSourceShape;
  phase: VolumePhase;
  attempts: number;
  failures: number;
  lastErrorCode: string | undefined;
  lastError: string | undefined;
  lastEventMessage: string | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  inflight: Promise<void> | undefined;
}

interface PodState {
  readonly pod: PodIdentity;
  /** `securityContext.fsGroup`, offered as volume_mount_group (the CSI client passes it when the driver applies it). */
  readonly fsGroup: number | undefined;
  readonly volumes: Map<string, VolumeState>;
  /** Spec, labels and annotations as last seen: a change there makes kubelet sync the pod. */
  specKey: string;
  started: boolean;
  syncTimer: NodeJS.Timeout | undefined;
  terminating: boolean;
  teardown: Promise<void> | undefined;
}

/** A failure before the driver is called, as kubelet words it (the FailedMount message follows the volume name). */
class KubeletFailure extends Error {}

/**
 * A kubelet for one node, as far as inline CSI volumes of one driver go, fed by a PodFeed (the API
 * server, or the in-memory cluster). For each volume of the driver that a container of a pod bound to
 * the node mounts (kubelet skips volumes no container uses) it does
 * what kubelet's CSI volume plugin does: checks the CSIDriver (no object, or `Ephemeral` not among its
 * volumeLifecycleModes: a FailedMount, retried), reads the nodePublishSecretRef Secret, adds pod info
 * when the CSIDriver has `podInfoOnMount` and minted tokens when it has `tokenRequests` (reused until
 * near expiry), writes vol_data.json, and calls NodePublishVolume. A failed publish is recorded as a
 * FailedMount Warning event on the pod and retried with kubelet's backoff (a final code leaves the
 * volume unmounted, a non-final one uncertain).
 * Pod syncs: one shortly after the pod's volumes are mounted, one per pod change (spec, labels,
 * annotations), and one every syncFrequency with jitter; with `requiresRepublish` each sync publishes
 * every mounted volume again (fresh Secret data, the cached tokens).
 * When a pod is being deleted (deletionTimestamp) or is gone, its mounted and uncertain volumes are
 * unpublished and their directories removed; a pod still there is then deleted for good, which is how
 * kubelet confirms a graceful deletion.
 */
export class PodWatchingKubelet {
  private readonly feed: PodFeed;
  private readonly driverName: string;
  private readonly tokens: KubeletTokenCache;
  private readonly pods = new Map<string, PodState>();
  /** Pods whose deletion this kubelet confirmed (or is confirming): each is confirmed once. */
  private readonly finalized = new Set<string>();
  private readonly journalEntries: JournalEntry[] = [];
  private stopped = true;

  constructor(private readonly options: PodWatchingKubeletOptions) {
    this.feed = options.feed;
    this.driverName = options.driverName ?? DRIVER_NAME;
    this.tokens = new KubeletTokenCache((pod, requests) => this.feed.serviceAccountTokens(pod, requests), options.now);
  }

  /** Starts following the feed in the background. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.feed.start((event) => this.onPodEvent(event));
  }

  /** Resolves once the pods present at the start were seen. */
  whenSynced(): Promise<void> {
    return this.feed.whenSynced();
  }

  /** Stops following and retrying and waits for calls in flight; mounted volumes stay mounted. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.feed.stop();
    for (const state of this.pods.values()) {
      clearTimeout(state.syncTimer);
      for (const volume of state.volumes.values()) this.cancelRetry(volume);
    }
    await Promise.all([...this.pods.values()].flatMap((state) => [...state.volumes.values()].map((volume) => volume.inflight)));
  }

  /** Stops, then unpublishes every volume it published (for test cleanup); rejects with the first failure. */
  async unpublishAll(): Promise<void> {
    await this.stop();
    const failures: unknown[] = [];
    for (const uid of [...this.pods.keys()]) {
      await this.tearDown(uid, undefined).catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw failures[0];
  }

  get journal(): readonly JournalEntry[] {
    return this.journalEntries;
  }

  /** The UIDs of the pods whose volumes this kubelet holds. */
  podUids(): string[] {
    return [...this.pods.keys()];
  }

  volume(podUid: string, volumeName: string): VolumeSnapshot | undefined {
    const volume = this.pods.get(podUid)?.volumes.get(volumeName);
    if (volume === undefined) return undefined;
    return {
      phase: volume.phase,
      attempts: volume.attempts,
      ...(volume.lastErrorCode !== undefined ? { lastErrorCode: volume.lastErrorCode } : {}),
      ...(volume.lastError !== undefined ? { lastError: volume.lastError } : {}),
      targetPath: this.targetPath(podUid, volumeName),
    };
  }

  targetPath(podUid: string, volumeName: string): string {
    return targetPath(this.options.kubeletRoot, podUid, volumeName);
  }

  // --- pods -----------------------------------------------------------------------------------

  private onPodEvent({ type, pod }: PodFeedEvent): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    if (uid === '') return;
    if (type === 'DELETED') {
      this.finalized.delete(uid);
      if (this.pods.has(uid)) this.tearDownInBackground(uid, undefined);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      this.tearDownInBackground(uid, pod);
      return;
    }
    const known = this.pods.get(uid);
    if (known === undefined) {
      this.admit(pod);
    } else if (!known.terminating && specKey(pod) !== known.specKey) {
      known.specKey = specKey(pod);
      if (known.started) this.syncSoon(known, 0);
    }
  }

  private admit(object: PodResource): void {
    const state: PodState = {
      pod: podIdentity(object),
      fsGroup: object.spec?.securityContext?.fsGroup,
      volumes: new Map(),
      specKey: specKey(object),
      started: false,
      syncTimer: undefined,
      terminating: false,
      teardown: undefined,
    };
    const used = volumesInUse(object);
    for (const volume of object.spec?.volumes ?? []) {
      if (volume.csi?.driver !== this.driverName) continue;
      if (!used.has(volume.name)) {
        this.options.logger?.info('kubelet: skipping a volume no container mounts', { pod: `${state.pod.namespace}/${state.pod.name}`, volume: volume.name });
        continue;
      }
      state.volumes.set(volume.name, {
        name: volume.name,
        source: volume.csi,
        phase: 'pending',
        attempts: 0,
        failures: 0,
        lastErrorCode: undefined,
        lastError: undefined,
        lastEventMessage: undefined,
        retryTimer: undefined,
        inflight: undefined,
      });
    }
    this.pods.set(state.pod.uid, state);
    for (const volume of state.volumes.values()) this.mountSoon(state, volume, 0);
  }

  private tearDownInBackground(uid: string, object: PodResource | undefined): void {
    void this.tearDown(uid, object).catch((error: unknown) =>
      this.options.logger?.warn('kubelet: tearing down the volumes of a pod failed', { podUid: uid, error: messageOf(error) }),
    );
  }

  // --- mount ----------------------------------------------------------------------------------

  private mountSoon(state: PodState, volume: VolumeState, delayMs: number): void {
    this.cancelRetry(volume);
    volume.retryTimer = setTimeout(() => {
      volume.retryTimer = undefined;
      if (state.terminating || this.stopped) return;
      volume.inflight = this.mountOnce(state, volume).finally(() => {
        volume.inflight = undefined;
      });
    }, delayMs);
    volume.retryTimer.unref();
  }

  private async mountOnce(state: PodState, volume: VolumeState): Promise<void> {
    const { pod } = state;
    volume.attempts += 1;
    let command: PublishCommand;
    try {
      command = await this.publishCommand(state, volume);
      await prepareVolumeDir(this.options.kubeletRoot, this.driverName, this.feed.nodeName, pod.uid, volume.name);
    } catch (error) {
      this.mountFailed(state, volume, 'kubelet', messageOf(error), false);
      return;
    }
    if (state.terminating) return;
    try {
      await this.options.volumes.publish(command);
    } catch (error) {
      const code = grpcCodeOf(error);
      this.journalEntries.push({ op: 'publish', podUid: pod.uid, volume: volume.name, ok: false, code });
      const uncertain = NON_FINAL_CODES.has(code);
      // After a final failure kubelet removes what it prepared (the driver mounted nothing).
      if (!uncertain && volume.phase !== 'uncertain') await removeVolumeDir(this.options.kubeletRoot, pod.uid, volume.name).catch(() => undefined);
      this.mountFailed(state, volume, code, `rpc error: code = ${goCodeName(code)} desc = ${detailsOf(error)}`, uncertain);
      return;
    }
    volume.phase = 'mounted';
    volume.failures = 0;
    volume.lastErrorCode = undefined;
    volume.lastError = undefined;
    this.journalEntries.push({ op: 'publish', podUid: pod.uid, volume: volume.name, ok: true });
    if (!state.started && [...state.volumes.values()].every((each) => each.phase === 'mounted')) {
      state.started = true;
      this.syncSoon(state, this.options.firstResyncMs?.() ?? FIRST_RESYNC_MIN_MS + Math.random() * FIRST_RESYNC_SPREAD_MS);
    }
  }

  /** NodePublishVolume's arguments as kubelet's CSI plugin assembles them; a KubeletFailure when it cannot. */
  private async publishCommand({ pod, fsGroup }: PodState, volume: VolumeState): Promise<PublishCommand> {
    const driver = await this.csiDriver();
    const secrets = await this.nodePublishSecrets(pod, volume);
    let tokens: string | undefined;
    try {
      tokens = await this.tokens.tokensFor(pod, driver.tokenRequests ?? []);
    } catch (error) {
      throw new KubeletFailure(`kubernetes.io/csi: mounter.SetUpAt failed to get service accoount token attributes: ${messageOf(error)}`);
    }
    return publishCommand(this.options.kubeletRoot, pod, inlineVolume(volume, secrets), {
      podInfoOnMount: driver.podInfoOnMount === true,
      ...(tokens !== undefined ? { serviceAccountTokens: tokens } : {}),
      ...(fsGroup !== undefined ? { volumeMountGroup: String(fsGroup) } : {}),
    });
  }

  /** The CSIDriver, which must allow inline (Ephemeral) volumes. */
  private async csiDriver(): Promise<CsiDriverShape> {
    const prefix = 'kubernetes.io/csi: mounter.SetupAt failed to check volume lifecycle mode:';
    let driver: CsiDriverShape | undefined;
    try {
      driver = await this.feed.csiDriver(this.driverName);
    } catch (error) {
      throw new KubeletFailure(`${prefix} ${messageOf(error)}`);
    }
    if (driver === undefined) throw new KubeletFailure(`${prefix} volume mode "Ephemeral" not supported by driver ${this.driverName} (no CSIDriver object)`);
    const modes = driver.volumeLifecycleModes ?? ['Persistent'];
    if (!modes.includes('Ephemeral')) throw new KubeletFailure(`${prefix} volume mode "Ephemeral" not supported by driver ${this.driverName} (only supports [${modes.join(' ')}])`);
    return driver;
  }

  private async nodePublishSecrets(pod: PodIdentity, volume: VolumeState): Promise<StringMap> {
    const name = volume.source.nodePublishSecretRef?.name;
    if (!name) return {};
    try {
      return await this.feed.secretData(pod.namespace, name);
    } catch (error) {
      throw new KubeletFailure(`fetching NodePublishSecretRef ${pod.namespace}/${name} failed: ${messageOf(error)}`);
    }
  }

  private mountFailed(state: PodState, volume: VolumeState, code: string, description: string, uncertain: boolean): void {
    // An uncertain volume stays uncertain until a publish succeeds; a final failure of a volume never
    // mounted leaves it unmounted.
    if (uncertain || volume.phase === 'uncertain') volume.phase = 'uncertain';
    else if (code !== 'kubelet') volume.phase = 'failed';
    volume.lastErrorCode = code;
    volume.lastError = description;
    const delay = Math.min(this.maxDelay(), this.initialDelay() * 2 ** Math.min(volume.failures, 20));
    volume.failures += 1;
    this.warnOnce(state.pod, volume, `MountVolume.SetUp failed for volume "${volume.name}" : ${description}`);
    if (!state.terminating && !this.stopped) this.mountSoon(state, volume, delay);
  }

  /** Records a FailedMount event unless the volume's last one said the same. */
  private warnOnce(pod: PodIdentity, volume: VolumeState, message: string): void {
    if (message === volume.lastEventMessage) return;
    volume.lastEventMessage = message;
    void this.feed.recordWarning(pod, 'FailedMount', message);
  }

  // --- pod syncs ------------------------------------------------------------------------------

  private syncSoon(state: PodState, delayMs: number): void {
    clearTimeout(state.syncTimer);
    state.syncTimer = setTimeout(() => void this.sync(state), delayMs);
    state.syncTimer.unref();
  }

  /** One pod sync: with requiresRepublish, every mounted volume is published again; then the next is scheduled. */
  private async sync(state: PodState): Promise<void> {
    state.syncTimer = undefined;
    if (state.terminating || this.stopped) return;
    const driver = await this.feed.csiDriver(this.driverName).catch(() => undefined);
    if (driver?.requiresRepublish === true) {
      await Promise.all([...state.volumes.values()].map((volume) => this.republish(state, volume)));
    }
    if (state.terminating || this.stopped || state.syncTimer !== undefined) return;
    const frequency = this.options.syncFrequencyMs ?? KUBELET_SYNC_FREQUENCY_MS;
    this.syncSoon(state, frequency * (1 + Math.random() * RESYNC_JITTER));
  }

  private async republish(state: PodState, volume: VolumeState): Promise<void> {
    if (volume.phase !== 'mounted' || volume.inflight !== undefined) return;
    const run = async (): Promise<void> => {
      const { pod } = state;
      try {
        await this.options.volumes.publish(await this.publishCommand(state, volume));
        this.journalEntries.push({ op: 'republish', podUid: pod.uid, volume: volume.name, ok: true });
      } catch (error) {
        const code = error instanceof KubeletFailure ? 'kubelet' : grpcCodeOf(error);
        this.journalEntries.push({ op: 'republish', podUid: pod.uid, volume: volume.name, ok: false, code });
        const description = code === 'kubelet' ? messageOf(error) : `rpc error: code = ${goCodeName(code)} desc = ${detailsOf(error)}`;
        this.warnOnce(pod, volume, `MountVolume.SetUp failed for volume "${volume.name}" : ${description}`);
      }
    };
    volume.inflight = run().finally(() => {
      volume.inflight = undefined;
    });
    await volume.inflight;
  }

  // --- unmount --------------------------------------------------------------------------------

  /**
   * Once per pod: stops retries and syncs, waits for calls in flight, unpublishes what may be mounted,
   * removes the volume directories (never recursively: a leftover mount makes it fail) and, for a pod
   * still in the cluster (`object`), confirms the deletion.
   */
  private tearDown(uid: string, object: PodResource | undefined): Promise<void> {
    const state = this.pods.get(uid);
    if (state === undefined) {
      // A terminating pod without volumes of this driver, or one already torn down: only confirm.
      return object !== undefined ? this.finalize(podIdentity(object)) : Promise.resolve();
    }
    if (state.teardown !== undefined) return state.teardown;
    state.terminating = true;
    clearTimeout(state.syncTimer);
    state.teardown = (async () => {
      for (const volume of state.volumes.values()) this.cancelRetry(volume);
      await Promise.all([...state.volumes.values()].map((volume) => volume.inflight));
      for (const volume of state.volumes.values()) await this.unmountWithRetry(state, volume);
      await removePodDirs(this.options.kubeletRoot, uid);
      this.tokens.forget(uid);
      if (object !== undefined) this.finalized.add(uid);
      this.pods.delete(uid);
      if (object !== undefined) await this.finalize(state.pod, true);
    })();
    state.teardown.catch(() => {
      // Allow a later DELETED event to try again.
      state.teardown = undefined;
    });
    return state.teardown;
  }

  private async unmountWithRetry(state: PodState, volume: VolumeState): Promise<void> {
    const { pod } = state;
    for (let failures = 0; ; failures++) {
      try {
        if (volume.phase === 'mounted' || volume.phase === 'uncertain') {
          await this.options.volumes.unpublish({ volumeId: volumeId(pod.uid, volume.name), targetPath: this.targetPath(pod.uid, volume.name) });
          this.journalEntries.push({ op: 'unpublish', podUid: pod.uid, volume: volume.name, ok: true });
        }
        // Never mounted: nothing to tell the driver, only the directory to remove.
        await removeVolumeDir(this.options.kubeletRoot, pod.uid, volume.name);
        volume.phase = 'pending';
        return;
      } catch (error) {
        this.journalEntries.push({ op: 'unpublish', podUid: pod.uid, volume: volume.name, ok: false, code: grpcCodeOf(error) });
        const message = `UnmountVolume.TearDown failed for volume "${volume.name}" : ${detailsOf(error)}`;
        this.options.logger?.warn(`kubelet: ${message}`, { pod: `${pod.namespace}/${pod.name}` });
        if (this.stopped) throw error;
        await sleep(Math.min(this.maxDelay(), this.initialDelay() * 2 ** Math.min(failures, 20)));
      }
    }
  }

  /** What kubelet's status manager does once a terminating pod's volumes are gone. */
  private async finalize(pod: PodIdentity, claimed = false): Promise<void> {
    if (this.stopped || (!claimed && this.finalized.has(pod.uid))) return;
    this.finalized.add(pod.uid);
    try {
      const deleted = await this.feed.confirmDeletion(pod);
      this.journalEntries.push({ op: 'finalize', podUid: pod.uid, ok: true, ...(deleted ? {} : { code: 'gone' }) });
    } catch (error) {
      this.journalEntries.push({ op: 'finalize', podUid: pod.uid, ok: false, code: messageOf(error) });
      this.finalized.delete(pod.uid);
      throw error;
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private cancelRetry(volume: VolumeState): void {
    if (volume.retryTimer !== undefined) clearTimeout(volume.retryTimer);
    volume.retryTimer = undefined;
  }

  private initialDelay(): number {
    return this.options.retryDelayMs ?? KUBELET_INITIAL_DELAY_MS;
  }

  private maxDelay(): number {
    return this.options.maxRetryDelayMs ?? KUBELET_MAX_DELAY_MS;
  }
}

function podIdentity(object: PodResource): PodIdentity {
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    uid: object.metadata.uid ?? '',
    // The API server fills in `default`; a pod from a manifest may leave it out.
    serviceAccountName: object.spec?.serviceAccountName || 'default',
  };
}

/** The volumes some container, init or ephemeral container mounts or maps as a device: the only ones kubelet sets up. */
function volumesInUse(object: PodResource): Set<string> {
  const containers = [...(object.spec?.containers ?? []), ...(object.spec?.initContainers ?? []), ...(object.spec?.ephemeralContainers ?? [])];
  return new Set(containers.flatMap((container) => [...(container.volumeMounts ?? []), ...(container.volumeDevices ?? [])].map((use) => use.name)));
}

/** What kubelet compares to tell a pod update (a sync) from a status-only change. */
function specKey(object: PodResource): string {
  return JSON.stringify([object.spec ?? {}, object.metadata.labels ?? {}, object.metadata.annotations ?? {}]);
}

/** kubelet passes `csi.readOnly` as is (absent = false); the driver itself insists on true. */
function inlineVolume(volume: VolumeState, secrets: StringMap): InlineVolume {
  return {
    name: volume.name,
    volumeAttributes: { ...(volume.source.volumeAttributes ?? {}) },
    nodePublishSecrets: secrets,
    readOnly: volume.source.readOnly === true,
  };
}

/** The gRPC status name of a failed CSI call (CsiCallError.code), or of an in-process DomainError. */
function grpcCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^[A-Z_]+$/.test(code)) return code;
    if (code === 'OperationPending') return 'ABORTED';
    if (code === 'ProviderUnavailable') return 'UNAVAILABLE';
  }
  return 'UNKNOWN';
}

/** FAILED_PRECONDITION -> FailedPrecondition, as Go's codes.Code prints in kubelet's messages. */
function goCodeName(code: string): string {
  return code
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

function detailsOf(error: unknown): string {
  const details = (error as { details?: unknown } | null)?.details;
  return typeof details === 'string' ? details : messageOf(error);
}

function messageOf(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string') return status.message;
    } catch {
      // not a Status
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
