import { describeError, toDomainError, type DomainError } from '../domain/errors.js';
import { EventReason } from '../domain/events.js';
import { SECRET_SYNC_FAILED } from '../domain/metric-labels.js';
import { answerBytes, answerSizeKey } from '../domain/payload-memory.js';
import { describeDiff, isEmptyDiff, type ObjectVersionsDiff } from '../domain/object-versions.js';
import { reportAfterCheck } from '../domain/pod-status.js';
import { rotationSkipReason, type RotationSkipReason } from '../domain/rotation-policy.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import type { VolumeBinding } from '../domain/volume-binding.js';
import type { Clock } from '../ports/clock.js';
import type { EventRecorder } from '../ports/event-recorder.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import type { PodSource } from '../ports/pod-source.js';
import type { ApplyPayload } from './apply-payload.js';
import { KUBELET_FETCH, type FetchContext } from './fetch-coalescing.js';
import type { FetchSecrets } from './fetch-secrets.js';
import type { AnswerLease, PayloadMemoryBudget } from './payload-memory-budget.js';
import type { RefreshCredentials } from './refresh-credentials.js';

export type RotationOutcome =
  | {
      readonly kind: 'unchanged';
      readonly binding: VolumeBinding;
      readonly spc: SecretProviderClass;
      /** Secrets that could not be synced (already reported); the check is retried with backoff. */
      readonly secretFailures: readonly string[];
    }
  | {
      readonly kind: 'rotated';
      readonly binding: VolumeBinding;
      readonly spc: SecretProviderClass;
      readonly versions: ObjectVersionsDiff;
      readonly filesChanged: boolean;
      readonly secretsChanged: readonly string[];
      readonly secretFailures: readonly string[];
    }
  | { readonly kind: 'failed'; readonly binding: VolumeBinding; readonly error: DomainError }
  /** The pod is finished or terminating: nothing was fetched or written. */
  | { readonly kind: 'skipped'; readonly binding: VolumeBinding; readonly reason: RotationSkipReason }
  /** Given up (an unpublish of the target, or the loop stopping): nothing was written or reported. */
  | { readonly kind: 'cancelled'; readonly binding: VolumeBinding };

/**
 * When the next check of a binding will be, given how this one ended (the rotation loop decides; the
 * pod status reports it). `spc` is the class the check read, when it got that far.
 */
export type NextCheckPlanner = (end: { readonly failed: boolean; readonly spc?: SecretProviderClass }) => number;

/**
 * One rotation check of a mounted binding: re-fetch with the mounted versions, and update files,
 * pod status and Secrets only where something changed. A failure keeps the old content byte for byte
 * and is reported through an event and metrics, never thrown. The answer is admitted against the
 * payload memory budget first. A check whose context signal aborts stops at its next step (the
 * provider call is cancelled), writes nothing and reports nothing: its target is being unpublished.
 */
export class RotateBinding {
  constructor(
    private readonly pods: PodSource,
    private readonly credentials: RefreshCredentials,
    private readonly fetch: FetchSecrets,
    private readonly apply: ApplyPayload,
    private readonly events: EventRecorder,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly answers: PayloadMemoryBudget,
  ) {}

  /** `context` says who waits (kubelet's republish by default) and the rotation pass the check belongs to. */
  async execute(binding: VolumeBinding, context: FetchContext = KUBELET_FETCH, nextCheckAt: NextCheckPlanner = () => this.clock.now()): Promise<RotationOutcome> {
    const started = this.clock.now();
    const { pod } = binding.request;
    const podInfo = await this.pods.get(pod.namespace, pod.name);
    // A pod the cluster does not know (yet) is rotated: only a known finished pod is left alone.
    const skip = podInfo && podInfo.uid === pod.uid ? rotationSkipReason(podInfo) : undefined;
    if (skip !== undefined) {
      this.metrics.rotationSkipped(skip);
      return { kind: 'skipped', binding, reason: skip };
    }
    let checked = binding;
    let lease: AnswerLease | undefined;
    try {
      checked = await this.withUsableCredentials(binding);
      lease = await this.answers.admit(answerSizeKey(binding.request), context.origin, context.signal);
      const { spc, payload } = await this.fetch.execute(checked.request, binding.objectVersions, context);
      lease.answered(answerBytes(payload.files));
      context.signal?.throwIfAborted();
      let rotationReport = binding.rotationReport;
      const result = await this.apply.execute({
        request: checked.request,
        spc,
        payload,
        previousVersions: binding.objectVersions,
        syncSecretsAnyway: spc.generation !== binding.classGeneration || !binding.secretsInSync,
        secretFailureReason: EventReason.secretRotationFailed,
        rotationReport: (mountChanged) => {
          const finding = { kind: mountChanged ? 'changed' : 'unchanged' } as const;
          const report = reportAfterCheck(binding.rotationReport, finding, this.clock.now(), nextCheckAt({ failed: false, spc }));
          rotationReport = report ?? rotationReport;
          return report;
        },
      });
      const secretFailures = result.secrets?.failures ?? [];
      const updated: VolumeBinding = {
        ...checked,
        providerName: spc.provider,
        objectVersions: payload.objectVersions,
        classGeneration: spc.generation,
        secretsInSync: result.secrets ? secretFailures.length === 0 : binding.secretsInSync,
        contentConfirmedAt: this.clock.now(),
        rotationReport,
      };
      const mountChanged = result.filesChanged || !isEmptyDiff(result.versions);
      const secretsChanged = result.secrets?.dataChanged ?? [];
      this.metrics.rotationReconcile(spc.provider, mountChanged, (this.clock.now() - started) / 1000);
      if (secretFailures.length > 0) this.metrics.rotationReconcileError(spc.provider, SECRET_SYNC_FAILED, mountChanged);
      if (!mountChanged && secretsChanged.length === 0) return { kind: 'unchanged', binding: updated, spc, secretFailures };
      await this.report(binding, result.versions, mountChanged, secretsChanged);
      return { kind: 'rotated', binding: updated, spc, versions: result.versions, filesChanged: result.filesChanged, secretsChanged, secretFailures };
    } catch (thrown) {
      if (context.signal?.aborted) return { kind: 'cancelled', binding };
      const error = toDomainError(thrown);
      const reason = describeError(thrown);
      this.metrics.rotationReconcileError(binding.providerName, error.errorType, false);
      this.logger.warn('rotation check failed; it is retried with backoff', {
        pod: `${pod.namespace}/${pod.name}`,
        class: binding.request.className,
        code: error.code,
        error: reason,
      });
      await this.events.record({ pod, type: 'Warning', reason: EventReason.mountRotationFailed, message: `failed to rotate mounted contents: ${reason}` });
      return { kind: 'failed', binding: await this.reportFailure(checked, reason, nextCheckAt({ failed: true })), error };
    } finally {
      lease?.release();
    }
  }

  /** The binding with credentials the provider can use now (kubelet's while valid, else fresh ones). */
  private async withUsableCredentials(binding: VolumeBinding): Promise<VolumeBinding> {
    const request = await this.credentials.execute(binding.request);
    return request === binding.request ? binding : { ...binding, request };
  }

  /** Puts the failure into the pod status (best effort: the API server may be what failed). */
  private async reportFailure(binding: VolumeBinding, reason: string, nextCheckAt: number): Promise<VolumeBinding> {
    const report = reportAfterCheck(binding.rotationReport, { kind: 'failed', reason }, this.clock.now(), nextCheckAt);
    if (report === undefined) return binding;
    try {
      await this.apply.saveReport(binding, report);
      return { ...binding, rotationReport: report };
    } catch (error) {
      const { pod } = binding.request;
      this.logger.warn('could not record the rotation failure in the pod status', { pod: `${pod.namespace}/${pod.name}`, error: describeError(error) });
      return binding;
    }
  }

  private async report(
    binding: VolumeBinding,
    versions: ObjectVersionsDiff,
    mountChanged: boolean,
    secretsChanged: readonly string[],
  ): Promise<void> {
    const { pod } = binding.request;
    const changes = describeDiff(versions) || 'file contents changed';
    if (mountChanged) {
      this.logger.info('mounted contents rotated', { pod: `${pod.namespace}/${pod.name}`, class: binding.request.className, changes });
      await this.events.record({ pod, type: 'Normal', reason: EventReason.mountRotationComplete, message: `successfully rotated mounted contents: ${changes}` });
    }
    if (secretsChanged.length > 0) {
      await this.events.record({ pod, type: 'Normal', reason: EventReason.secretRotationComplete, message: `successfully rotated K8s secrets: ${secretsChanged.join(', ')}` });
    }
  }
}
