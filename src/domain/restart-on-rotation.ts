import { excerpt } from './bounded-text.js';
import { compareStrings, describeDiff, sortObjectVersions, type ObjectVersion, type ObjectVersionsDiff } from './object-versions.js';
import { sha256Hex } from './sha256.js';
import { takeToken, type RateLimit, type TokenBucket } from './token-bucket.js';
import type { StringMap } from './volume-binding.js';
import { rolloutInProgress, type Workload } from './workload.js';

/** The annotations of restart on rotation. */
export const RestartAnnotation = {
  /** On a Deployment, StatefulSet or DaemonSet: `"true"` (mounts and synced Secrets), `"mount"` or `"secret"`. */
  restartOnRotation: 'secrets-store.csi.k8s.io/restart-on-rotation',
  /** On the pod template: the hash of the rotation its pods were restarted for (the record that makes restarts idempotent). */
  restartedFor: 'secrets-store.csi.k8s.io/restarted-for',
  /** On the pod template: when that restart was made (RFC 3339); the per-workload rate limit counts from it. */
  restartedAt: 'secrets-store.csi.k8s.io/restarted-at',
  /** On a synced Secret: digest of the object versions its data was last rotated to (absent until a rotation changes its data). */
  secretRotatedTo: 'secrets-store.csi.k8s.io/rotated-to',
  /** On a synced Secret: when a rotation last changed its data (RFC 3339). */
  secretRotatedAt: 'secrets-store.csi.k8s.io/rotated-at',
} as const;

/** What a workload restarts for: a rotation of its pods' mounts, of the synced Secrets its pods read, or both. */
export interface RestartMode {
  readonly mount: boolean;
  readonly secret: boolean;
}

export type OptIn =
  | { readonly kind: 'off' }
  | { readonly kind: 'on'; readonly mode: RestartMode }
  | { readonly kind: 'invalid'; readonly problem: string };

const MODES: Readonly<Record<string, RestartMode>> = {
  true: { mount: true, secret: true },
  mount: { mount: true, secret: false },
  secret: { mount: false, secret: true },
};

/** The workload's `restart-on-rotation` annotation: absent, empty or `"false"` is off. */
export function parseOptIn(annotations: StringMap): OptIn {
  const raw = annotations[RestartAnnotation.restartOnRotation];
  const value = raw?.trim();
  if (value === undefined || value === '' || value === 'false') return { kind: 'off' };
  const mode = Object.hasOwn(MODES, value) ? MODES[value] : undefined;
  if (mode !== undefined) return { kind: 'on', mode };
  return {
    kind: 'invalid',
    problem: `invalid value "${excerpt(raw!)}" for annotation ${RestartAnnotation.restartOnRotation}: expected "true", "mount" or "secret"`,
  };
}

/** One pod x class mount of a pod of the workload, as its pod status object tells. */
export interface WorkloadMount {
  readonly className: string;
  readonly objects: readonly ObjectVersion[];
  /** lastRotationTime: set only once a rotation changed the mount after the pod's first publish. */
  readonly rotatedAt: number | undefined;
  /** When the pod was created. */
  readonly podCreatedAt: number;
}

/** A Secret the driver syncs (label `secrets-store.csi.k8s.io/managed=true`), as far as its rotation marker goes. */
export interface SyncedSecret {
  readonly namespace: string;
  readonly name: string;
  /** Absent until a rotation changed the Secret's data. */
  readonly rotation?: { readonly versions: string; readonly at: number };
}

/** What changed behind a workload's pods since they started; sorted and without repeats, so equal facts hash equally. */
export interface RotationEvidence {
  readonly mounts: readonly { readonly className: string; readonly objects: readonly ObjectVersion[] }[];
  readonly secrets: readonly { readonly secretName: string; readonly versions: string }[];
}

export function isEmptyEvidence(evidence: RotationEvidence): boolean {
  return evidence.mounts.length === 0 && evidence.secrets.length === 0;
}

/**
 * The rotations the workload's pods have not been restarted for, from the facts any observer reads the
 * same way: a mount counts once it has rotated (a fresh pod's mount never does, so the pods a restart
 * creates add nothing); a synced Secret the template reads counts once a rotation changed its data after
 * the oldest pod was created (pods created later read the new data when they started). Two node agents
 * that report the same versions give the same evidence.
 */
export function rotationEvidence(mode: RestartMode, mounts: readonly WorkloadMount[], readSecrets: readonly SyncedSecret[]): RotationEvidence {
  const rotatedMounts = mode.mount ? mounts.filter((mount) => mount.rotatedAt !== undefined) : [];
  const uniqueMounts = new Map<string, { className: string; objects: ObjectVersion[] }>();
  for (const mount of rotatedMounts) {
    const objects = sortObjectVersions(mount.objects);
    uniqueMounts.set(JSON.stringify([mount.className, objects.map(({ id, version }) => [id, version])]), { className: mount.className, objects });
  }
  const oldestPod = mounts.reduce((oldest, mount) => Math.min(oldest, mount.podCreatedAt), Infinity);
  const secrets = mode.secret
    ? readSecrets.flatMap((secret) => (secret.rotation !== undefined && secret.rotation.at > oldestPod ? [{ secretName: secret.name, versions: secret.rotation.versions }] : []))
    : [];
  return {
    mounts: [...uniqueMounts.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, mount]) => mount),
    secrets: [...new Map(secrets.map((secret) => [`${secret.secretName}\n${secret.versions}`, secret])).values()].sort(
      (a, b) => compareStrings(a.secretName, b.secretName) || compareStrings(a.versions, b.versions),
    ),
  };
}

/** The `restarted-for` value: the first 16 hex digits of SHA-256 over the evidence (classes, versions, Secret markers). */
export function restartHash(evidence: RotationEvidence): string {
  const canonical = JSON.stringify([
    evidence.mounts.map((mount) => [mount.className, mount.objects.map(({ id, version }) => [id, version])]),
    evidence.secrets.map((secret) => [secret.secretName, secret.versions]),
  ]);
  return sha256Hex(canonical).slice(0, 16);
}

/** The digest a synced Secret's `rotated-to` marker carries: the object versions of the mount its data came from. */
export function syncedVersionsDigest(objects: readonly ObjectVersion[]): string {
  return sha256Hex(JSON.stringify(sortObjectVersions(objects).map(({ id, version }) => [id, version]))).slice(0, 16);
}

/** The annotations a rotation that changed a synced Secret's data writes on it. */
export function secretRotationMarker(objects: readonly ObjectVersion[], now: number): StringMap {
  return { [RestartAnnotation.secretRotatedTo]: syncedVersionsDigest(objects), [RestartAnnotation.secretRotatedAt]: new Date(now).toISOString() };
}

/** A Secret's rotation marker, or undefined when it has none (or a half or unreadable one). */
export function readSecretRotationMarker(annotations: StringMap): SyncedSecret['rotation'] {
  const versions = annotations[RestartAnnotation.secretRotatedTo];
  const at = Date.parse(annotations[RestartAnnotation.secretRotatedAt] ?? '');
  return versions === undefined || versions === '' || Number.isNaN(at) ? undefined : { versions, at };
}

export interface RestartSettings {
  /** A new rotation is acted upon once its evidence has stayed the same this long (later moves restart once). */
  readonly debounceMs: number;
  /** Least time between two restarts of one workload. */
  readonly minIntervalMs: number;
  /** Restarts across the cluster (token bucket; qps 0 = unlimited). */
  readonly clusterLimit: RateLimit;
}

/** The evidence hash the restarter is waiting on, and since when it has been the same. */
export interface PendingRotation {
  readonly hash: string;
  readonly since: number;
}

export type SkipReason = 'NotOptedIn' | 'InvalidOptIn' | 'NoRotation' | 'AlreadyRestarted' | 'RolloutPaused' | 'RolloutInProgress';
export type WaitReason = 'Debounce' | 'WorkloadRateLimit' | 'ClusterRateLimit';

export type RestartDecision =
  | {
      readonly kind: 'restart';
      readonly hash: string;
      /** Pod template annotations to set (a change of the template rolls the pods). */
      readonly templateAnnotations: StringMap;
      readonly clusterBucket: TokenBucket;
    }
  | { readonly kind: 'skip'; readonly reason: SkipReason; readonly detail?: string; readonly pending: PendingRotation | undefined }
  | { readonly kind: 'wait'; readonly reason: WaitReason; readonly until: number; readonly pending: PendingRotation };

export interface RestartInput {
  readonly workload: Workload;
  readonly evidence: RotationEvidence;
  /** What the restarter remembered from the last decision for this workload (nothing after its own restart). */
  readonly pending: PendingRotation | undefined;
  readonly clusterBucket: TokenBucket;
  readonly now: number;
}

/**
 * Restart or not. Restarts are idempotent because the hash on the pod template is the record: the same
 * evidence never restarts twice, whoever saw it first and however often the restarter itself restarted.
 * Never during a rollout (a rollout replaces the pods anyway), only after the evidence has held still
 * for the debounce window, at most once per `minIntervalMs` per workload (counted from the template's
 * `restarted-at`) and within the cluster-wide bucket. `wait` says when to decide again.
 */
export function decideRestart(settings: RestartSettings, input: RestartInput): RestartDecision {
  const { workload, evidence, now } = input;
  const optIn = parseOptIn(workload.annotations);
  if (optIn.kind === 'off') return { kind: 'skip', reason: 'NotOptedIn', pending: undefined };
  if (optIn.kind === 'invalid') return { kind: 'skip', reason: 'InvalidOptIn', detail: optIn.problem, pending: undefined };
  if (isEmptyEvidence(evidence)) return { kind: 'skip', reason: 'NoRotation', pending: undefined };
  const hash = restartHash(evidence);
  if (workload.templateAnnotations[RestartAnnotation.restartedFor] === hash) return { kind: 'skip', reason: 'AlreadyRestarted', pending: undefined };
  const pending = input.pending?.hash === hash ? input.pending : { hash, since: now };
  if (workload.rollout.kind === 'Deployment' && workload.rollout.paused) return { kind: 'skip', reason: 'RolloutPaused', pending };
  const rollout = rolloutInProgress(workload.generation, workload.rollout);
  if (rollout !== undefined) return { kind: 'skip', reason: 'RolloutInProgress', detail: rollout, pending };
  const settled = pending.since + settings.debounceMs;
  if (now < settled) return { kind: 'wait', reason: 'Debounce', until: settled, pending };
  const lastRestart = Date.parse(workload.templateAnnotations[RestartAnnotation.restartedAt] ?? '');
  if (!Number.isNaN(lastRestart) && now < lastRestart + settings.minIntervalMs) {
    return { kind: 'wait', reason: 'WorkloadRateLimit', until: lastRestart + settings.minIntervalMs, pending };
  }
  const token = takeToken(input.clusterBucket, settings.clusterLimit, now);
  if (!token.taken) return { kind: 'wait', reason: 'ClusterRateLimit', until: now + token.waitMs, pending };
  return {
    kind: 'restart',
    hash,
    templateAnnotations: { [RestartAnnotation.restartedFor]: hash, [RestartAnnotation.restartedAt]: new Date(now).toISOString() },
    clusterBucket: token.bucket,
  };
}

/**
 * The event message of a restart: the classes and the objects that changed (with their versions, never
 * values) when the restarter saw the change happen (`changes` by class), else the versions now mounted;
 * then the synced Secrets whose data was rotated. Versions come from providers: the event recorders cut
 * the message to the cap of an event.
 */
export function describeRestart(evidence: RotationEvidence, changes: ReadonlyMap<string, ObjectVersionsDiff>): string {
  const classes = [...new Set(evidence.mounts.map((mount) => mount.className))].map((className) => {
    const diff = changes.get(className);
    if (diff !== undefined) return `SecretProviderClass ${className} (${describeDiff(diff)})`;
    const now = sortObjectVersions(evidence.mounts.filter((mount) => mount.className === className).flatMap((mount) => mount.objects));
    return `SecretProviderClass ${className} (now ${now.map(({ id, version }) => `${id} ${version}`).join(', ')})`;
  });
  const secrets = [...new Set(evidence.secrets.map((secret) => secret.secretName))].map((name) => `synced Secret ${name}`);
  return `restarting pods after a rotation of ${[...classes, ...secrets].join('; ')}`;
}
