import { CoreV1Api, type CoreV1Event, type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StringMap } from '../../domain/volume-binding.js';
import type { Logger } from '../../ports/logger.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';
import { DRIVER_NAME, FakeKubelet, type FakePod, type InlineVolume } from './fake-kubelet.js';

/** gRPC codes kubelet treats as "the operation may still be in progress" (the volume is then uncertain). */
const NON_FINAL_CODES = new Set(['CANCELLED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ABORTED']);

/** kubelet's volume-operation backoff: 500 ms, doubling, capped at 2 min 2 s. */
const KUBELET_INITIAL_DELAY_MS = 500;
const KUBELET_MAX_DELAY_MS = 122_000;

export interface PodWatchingKubeletOptions {
  /** The kubelet's identity: reads its pods and nodePublishSecretRef Secrets, records events, finalizes deletions. */
  readonly kubeConfig: KubeConfig;
  /** The driver, usually a CsiNodeClient on its socket. */
  readonly volumes: NodeVolumes;
  readonly kubeletRoot: string;
  readonly nodeName: string;
  readonly driverName?: string;
  /** First retry delay of a failed volume operation or watch; doubles per failure up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** With a CSIDriver `requiresRepublish: true`: republish mounted volumes this often (off when absent). */
  readonly republishIntervalMs?: number;
  readonly logger?: Logger;
}

/**
 * mounted: published; uncertain: the last publish failed with a non-final code (it may have mounted);
 * failed: the last publish failed with a final code (nothing mounted); pending: not tried yet, or its
 * nodePublishSecretRef could not be read.
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

/** What the fake kubelet did, in order (tests read it to see the calls it made). */
export interface JournalEntry {
  readonly op: 'publish' | 'republish' | 'unpublish' | 'finalize';
  readonly podUid: string;
  readonly volume?: string;
  readonly ok: boolean;
  readonly code?: string;
}

interface CsiVolumeSource {
  readonly driver?: string;
  readonly readOnly?: boolean;
  readonly volumeAttributes?: Record<string, string>;
  readonly nodePublishSecretRef?: { readonly name?: string };
}

interface VolumeState {
  readonly name: string;
  readonly source: CsiVolumeSource;
  /** One FakeKubelet per volume: it keeps the volume's directory, vol_data.json and CSI arguments. */
  readonly kubelet: FakeKubelet;
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
  readonly pod: FakePod;
  readonly volumes: Map<string, VolumeState>;
  terminating: boolean;
  teardown: Promise<void> | undefined;
}

/**
 * A kubelet for one node, as far as inline CSI volumes of one driver go, driven by the API server: it
 * lists and watches the Pods with `spec.nodeName=<node>` (resuming from the last resourceVersion,
 * relisting on 410 Gone) and for each volume of the driver calls NodePublishVolume through a
 * FakeKubelet (kubelet's volume id, target path, pod-info volume context, `readonly` from
 * `csi.readOnly`, `secrets` from the nodePublishSecretRef Secret read from the API). A failed publish
 * is recorded as a FailedMount Warning event on the pod and retried with kubelet's backoff (a final
 * code leaves the volume unmounted, a non-final one uncertain). When a pod is being deleted
 * (deletionTimestamp) or is gone (DELETED, or missing from a relist), its mounted and uncertain
 * volumes are unpublished and their directories removed; a pod still in the API is then deleted with
 * grace period 0, which is how kubelet confirms a graceful deletion.
 */
export class PodWatchingKubelet {
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  private readonly driverName: string;
  private readonly pods = new Map<string, PodState>();
  /** Pods whose deletion this kubelet confirmed (or is confirming): each is confirmed once. */
  private readonly finalized = new Set<string>();
  private readonly journalEntries: JournalEntry[] = [];
  private resourceVersion = '';
  private stopped = true;
  private synced = false;
  private watchFailures = 0;
  private watchRetryTimer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;
  private republishTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly syncWaiters: (() => void)[] = [];
  private listCount = 0;

  constructor(private readonly options: PodWatchingKubeletOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(options.kubeConfig);
    this.driverName = options.driverName ?? DRIVER_NAME;
  }

  /** Starts listing and watching in the background. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.cycle();
    if (this.options.republishIntervalMs !== undefined) {
      this.republishTimer = setInterval(() => void this.republishMounted(), this.options.republishIntervalMs);
      this.republishTimer.unref();
    }
  }

  /** Stops watching and retrying and waits for calls in flight; mounted volumes stay mounted. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchRetryTimer !== undefined) clearTimeout(this.watchRetryTimer);
    if (this.republishTimer !== undefined) clearInterval(this.republishTimer);
    this.abortWatch?.();
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    for (const state of this.pods.values()) {
      for (const volume of state.volumes.values()) this.cancelRetry(volume);
    }
    await this.loop;
    await Promise.all([...this.pods.values()].flatMap((state) => [...state.volumes.values()].map((volume) => volume.inflight)));
  }

  /** Stops, then unpublishes every volume it published (for test cleanup); rejects with the first failure. */
  async unpublishAll(): Promise<void> {
    await this.stop();
    const failures: unknown[] = [];
    for (const uid of [...this.pods.keys()]) {
      await this.tearDown(uid, false).catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw failures[0];
  }

  /** Resolves once the first list of the node's pods has been handled (or the kubelet was stopped). */
  whenSynced(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** How many times the pods were listed (1 after the start; more after a 410 Gone). */
  get lists(): number {
    return this.listCount;
  }

  get journal(): readonly JournalEntry[] {
    return this.journalEntries;
  }

  /** The UIDs of the pods whose volumes this kubelet holds. */
  podUids(): string[] {
    return [...this.pods.keys()];
  }

  volume(podUid: string, volumeName: string): VolumeSnapshot | undefined {
    const state = this.pods.get(podUid);
    const volume = state?.volumes.get(volumeName);
    if (state === undefined || volume === undefined) return undefined;
    return {
      phase: volume.phase,
      attempts: volume.attempts,
      ...(volume.lastErrorCode !== undefined ? { lastErrorCode: volume.lastErrorCode } : {}),
      ...(volume.lastError !== undefined ? { lastError: volume.lastError } : {}),
      targetPath: volume.kubelet.targetPath(state.pod, volume.name),
    };
  }

  targetPath(podUid: string, volumeName: string): string {
    return join(this.options.kubeletRoot, 'pods', podUid, 'volumes', 'kubernetes.io~csi', volumeName, 'mount');
  }

  // --- list + watch ---------------------------------------------------------------------------

  private async cycle(): Promise<void> {
    while (!this.stopped) {
      let delayMs = 0;
      try {
        if (this.resourceVersion === '') await this.relist();
        if (this.stopped) return;
        const started = Date.now();
        await this.watchOnce();
        if (Date.now() - started < 1000) delayMs = this.nextWatchDelay();
        else this.watchFailures = 0;
      } catch (error) {
        if (codeOf(error) === 410) {
          this.options.logger?.debug('fake kubelet: pod watch expired (410), relisting');
          this.resourceVersion = '';
        } else if (!this.stopped) {
          delayMs = this.nextWatchDelay();
          this.options.logger?.warn('fake kubelet: watching pods failed, retrying', { error: messageOf(error), retryInMs: delayMs });
        }
      }
      if (this.stopped) return;
      if (delayMs > 0) {
        await new Promise<void>((resolve) => {
          this.watchRetryTimer = setTimeout(resolve, delayMs);
          this.watchRetryTimer.unref();
          this.abortWatch = resolve;
        });
      }
    }
  }

  private nextWatchDelay(): number {
    const delay = Math.min(this.maxDelay(), this.initialDelay() * 2 ** Math.min(this.watchFailures, 20));
    this.watchFailures += 1;
    return delay;
  }

  private async relist(): Promise<void> {
    const list = await this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector() });
    this.listCount += 1;
    const pods = toJson<V1Pod[]>(list.items);
    const present = new Set(pods.map((pod) => pod.metadata?.uid ?? ''));
    for (const uid of this.pods.keys()) if (!present.has(uid)) this.podGone(uid);
    for (const uid of this.finalized) if (!present.has(uid)) this.finalized.delete(uid);
    for (const pod of pods) this.podSeen(pod);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let open = true;
      let controller: AbortController | undefined;
      const finish = (error: unknown): void => {
        if (!open) return;
        open = false;
        controller?.abort();
        this.abortWatch = undefined;
        if (error) reject(error);
        else resolve();
      };
      this.abortWatch = () => finish(null);
      const params = {
        fieldSelector: this.fieldSelector(),
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: 300,
      };
      const onEvent = (type: string, object: unknown): void => {
        if (!open) return;
        if (type === 'ERROR') {
          const status = (object ?? {}) as { code?: number; message?: string };
          finish(Object.assign(new Error(status.message ?? 'watch error'), { code: status.code }));
          return;
        }
        const pod = toJson<V1Pod>(object);
        const version = pod.metadata?.resourceVersion;
        if (version) this.resourceVersion = version;
        if (type === 'ADDED' || type === 'MODIFIED') this.podSeen(pod);
        else if (type === 'DELETED') this.podGone(pod.metadata?.uid ?? '');
      };
      void this.watcher.watch('/api/v1/pods', params, onEvent, finish).then((abort) => {
        controller = abort;
        if (!open) abort.abort();
      });
    });
  }

  private fieldSelector(): string {
    return `spec.nodeName=${this.options.nodeName}`;
  }

  // --- pods -----------------------------------------------------------------------------------

  private podSeen(object: V1Pod): void {
    const uid = object.metadata?.uid ?? '';
    if (uid === '' || object.spec?.nodeName !== this.options.nodeName) return;
    const known = this.pods.get(uid);
    if (object.metadata?.deletionTimestamp) {
      void this.tearDown(uid, true, object).catch((error: unknown) => this.teardownFailed(uid, error));
      return;
    }
    if (known !== undefined || this.stopped) return;
    const state: PodState = { pod: fakePod(object), volumes: new Map(), terminating: false, teardown: undefined };
    for (const volume of object.spec?.volumes ?? []) {
      const csi = volume.csi as CsiVolumeSource | undefined;
      if (csi?.driver !== this.driverName) continue;
      state.volumes.set(volume.name, {
        name: volume.name,
        source: csi,
        kubelet: new FakeKubelet(this.options.volumes, this.options.kubeletRoot, this.driverName),
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
    this.pods.set(uid, state);
    for (const volume of state.volumes.values()) this.mountSoon(state, volume, 0);
  }

  private podGone(uid: string): void {
    this.finalized.delete(uid);
    if (!this.pods.has(uid)) return;
    void this.tearDown(uid, false).catch((error: unknown) => this.teardownFailed(uid, error));
  }

  private teardownFailed(uid: string, error: unknown): void {
    this.options.logger?.warn('fake kubelet: tearing down the volumes of a pod failed', { podUid: uid, error: messageOf(error) });
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
    let secrets: StringMap;
    try {
      secrets = await this.nodePublishSecrets(pod, volume);
    } catch (error) {
      this.mountFailed(state, volume, 'kubelet', `kubernetes.io/csi: failed to get the node publish secret: ${messageOf(error)}`, false);
      return;
    }
    if (state.terminating) return;
    try {
      await volume.kubelet.startPod({ ...pod, volumes: [inlineVolume(volume, secrets)] });
      volume.phase = 'mounted';
      volume.failures = 0;
      volume.lastErrorCode = undefined;
      volume.lastError = undefined;
      this.journalEntries.push({ op: 'publish', podUid: pod.uid, volume: volume.name, ok: true });
    } catch (error) {
      const code = grpcCodeOf(error);
      this.journalEntries.push({ op: 'publish', podUid: pod.uid, volume: volume.name, ok: false, code });
      const description = `rpc error: code = ${goCodeName(code)} desc = ${detailsOf(error)}`;
      this.mountFailed(state, volume, code, description, NON_FINAL_CODES.has(code));
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
    const message = `MountVolume.SetUp failed for volume "${volume.name}" : ${description}`;
    if (message !== volume.lastEventMessage) {
      volume.lastEventMessage = message;
      void this.recordEvent(state.pod, 'FailedMount', message);
    }
    if (!state.terminating && !this.stopped) this.mountSoon(state, volume, delay);
  }

  private async nodePublishSecrets(pod: FakePod, volume: VolumeState): Promise<StringMap> {
    const name = volume.source.nodePublishSecretRef?.name;
    if (!name) return {};
    const secret = await this.core.readNamespacedSecret({ namespace: pod.namespace, name });
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64').toString('utf8');
    return data;
  }

  private async republishMounted(): Promise<void> {
    for (const state of this.pods.values()) {
      if (state.terminating) continue;
      for (const volume of state.volumes.values()) {
        if (volume.phase !== 'mounted' || volume.inflight !== undefined) continue;
        volume.inflight = (async () => {
          try {
            const secrets = await this.nodePublishSecrets(state.pod, volume);
            await volume.kubelet.startPod({ ...state.pod, volumes: [inlineVolume(volume, secrets)] });
            this.journalEntries.push({ op: 'republish', podUid: state.pod.uid, volume: volume.name, ok: true });
          } catch (error) {
            this.journalEntries.push({ op: 'republish', podUid: state.pod.uid, volume: volume.name, ok: false, code: grpcCodeOf(error) });
          }
        })().finally(() => {
          volume.inflight = undefined;
        });
      }
    }
  }

  // --- unmount --------------------------------------------------------------------------------

  /**
   * Once per pod: stops retries, waits for calls in flight, unpublishes what may be mounted, removes
   * the volume directories (non-recursively, as kubelet does: a leftover mount makes it fail) and, for
   * a pod still in the API (`finalize`), confirms the deletion with grace period 0.
   */
  private tearDown(uid: string, finalize: boolean, object?: V1Pod): Promise<void> {
    const state = this.pods.get(uid);
    if (state === undefined) {
      // A terminating pod without volumes of this driver, or one already torn down: only confirm.
      return finalize && object !== undefined ? this.finalize(object) : Promise.resolve();
    }
    if (state.teardown !== undefined) return state.teardown;
    state.terminating = true;
    state.teardown = (async () => {
      for (const volume of state.volumes.values()) this.cancelRetry(volume);
      await Promise.all([...state.volumes.values()].map((volume) => volume.inflight));
      for (const volume of state.volumes.values()) await this.unmountWithRetry(state, volume);
      await removeEmptyDirs([join(this.options.kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi'), join(this.options.kubeletRoot, 'pods', uid, 'volumes'), join(this.options.kubeletRoot, 'pods', uid)]);
      if (finalize && object !== undefined) this.finalized.add(uid);
      this.pods.delete(uid);
      if (finalize && object !== undefined) await this.finalize(object, true);
    })();
    state.teardown.catch(() => {
      // Allow a later DELETED/relist to try again.
      state.teardown = undefined;
    });
    return state.teardown;
  }

  private async unmountWithRetry(state: PodState, volume: VolumeState): Promise<void> {
    const { pod } = state;
    for (let failures = 0; ; failures++) {
      try {
        if (volume.phase === 'mounted' || volume.phase === 'uncertain') {
          await volume.kubelet.deletePod(pod.uid);
          this.journalEntries.push({ op: 'unpublish', podUid: pod.uid, volume: volume.name, ok: true });
        } else {
          // Never mounted: nothing to tell the driver, only the directory to remove.
          const dir = join(this.options.kubeletRoot, 'pods', pod.uid, 'volumes', 'kubernetes.io~csi', volume.name);
          await rm(join(dir, 'vol_data.json'), { force: true });
          await removeEmptyDirs([join(dir, 'mount'), dir]);
        }
        volume.phase = 'pending';
        return;
      } catch (error) {
        this.journalEntries.push({ op: 'unpublish', podUid: pod.uid, volume: volume.name, ok: false, code: grpcCodeOf(error) });
        const message = `UnmountVolume.TearDown failed for volume "${volume.name}" : ${detailsOf(error)}`;
        this.options.logger?.warn(`fake kubelet: ${message}`, { pod: `${pod.namespace}/${pod.name}` });
        if (this.stopped) throw error;
        await sleep(Math.min(this.maxDelay(), this.initialDelay() * 2 ** Math.min(failures, 20)));
      }
    }
  }

  /** What kubelet's status manager does once a terminating pod's volumes are gone. */
  private async finalize(object: V1Pod, claimed = false): Promise<void> {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    const uid = object.metadata?.uid ?? '';
    if (this.stopped || (!claimed && this.finalized.has(uid))) return;
    this.finalized.add(uid);
    try {
      await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } } });
      this.journalEntries.push({ op: 'finalize', podUid: uid, ok: true });
    } catch (error) {
      // 404: gone already; 409: the name now belongs to another pod.
      const code = codeOf(error);
      this.journalEntries.push({ op: 'finalize', podUid: uid, ok: code === 404 || code === 409, code: String(code ?? 'error') });
      if (code !== 404 && code !== 409) {
        this.finalized.delete(uid);
        throw error;
      }
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private async recordEvent(pod: FakePod, reason: string, message: string): Promise<void> {
    const now = new Date();
    const body = {
      metadata: { name: `${pod.name}.${randomBytes(8).toString('hex')}`, namespace: pod.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid },
      reason,
      message,
      type: 'Warning',
      source: { component: 'kubelet', host: this.options.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.options.nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    } as CoreV1Event;
    try {
      await this.core.createNamespacedEvent({ namespace: pod.namespace, body });
    } catch (error) {
      this.options.logger?.warn('fake kubelet: could not record an event', { reason, error: messageOf(error) });
    }
  }

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

function fakePod(object: V1Pod): FakePod {
  return {
    namespace: object.metadata?.namespace ?? '',
    name: object.metadata?.name ?? '',
    uid: object.metadata?.uid ?? '',
    serviceAccountName: object.spec?.serviceAccountName ?? '',
    volumes: [],
  };
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

/** Removes each directory if it exists and is empty (never recursively: a mount left inside makes it fail). */
async function removeEmptyDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    try {
      await rmdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        // Other volumes (of other drivers) may still be there; the pod directory then stays.
        if (dir.endsWith('/mount')) throw new Error(`"${dir}" is not empty: the driver left files behind`);
        continue;
      }
      throw error;
    }
  }
}

/** The gRPC status name of a failed CSI call (CsiCallError.code), or of an in-process DomainError. */
function grpcCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^[A-Z_]+$/.test(code)) return code;
    if (code === 'OperationPending') return 'ABORTED';
    if (code === 'ProviderUnavailable') return 'UNAVAILABLE';
    return 'UNKNOWN';
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

/** HTTP status of an API failure (ApiException.code, a watch's statusCode, or an ERROR event's code). */
function codeOf(error: unknown): number | undefined {
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function toJson<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
