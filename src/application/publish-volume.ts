import { toDomainError } from '../domain/errors.js';
import { EventReason } from '../domain/events.js';
import { answerBytes, answerSizeKey } from '../domain/payload-memory.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import type { VolumeBinding, VolumeRequest } from '../domain/volume-binding.js';
import { settingsBeforeFetch } from '../domain/volume-ownership.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';
import type { ApplyPayload, ApplyResult } from './apply-payload.js';
import type { FetchSecrets } from './fetch-secrets.js';
import type { AnswerLease, PayloadMemoryBudget } from './payload-memory-budget.js';

export interface MountedVolume {
  readonly binding: VolumeBinding;
  /** The class as it was mounted (its annotations steer rotation). */
  readonly spc: SecretProviderClass;
}

/**
 * First mount of a volume: check the target, mount the tmpfs (owned by the pod's fsGroup when kubelet
 * passed one), fetch from the provider, fit the volume to the payload, write the files, record the pod
 * status and sync Secrets. A failure before the files are in place unmounts what this call mounted, so
 * kubelet's retry starts clean and nothing half-written stays behind. Room for the provider's answer is
 * taken from the payload memory budget first: when none comes, nothing is mounted, fetched or written
 * and kubelet gets PayloadMemoryExhausted (RESOURCE_EXHAUSTED) to retry.
 */
export class PublishVolume {
  constructor(
    private readonly fetch: FetchSecrets,
    private readonly mounter: VolumeMounter,
    private readonly apply: ApplyPayload,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly answers: PayloadMemoryBudget,
  ) {}

  async execute(request: VolumeRequest): Promise<MountedVolume> {
    // The path checked here is the one every later step (mount, write, status, unmount) uses.
    await this.mounter.checkTarget(request.target);
    const lease = await this.answers.admit(answerSizeKey(request), 'kubelet');
    try {
      return await this.mountAndFetch(request, lease);
    } finally {
      lease.release();
    }
  }

  private async mountAndFetch(request: VolumeRequest, lease: AnswerLease): Promise<MountedVolume> {
    const target = request.target.path;
    const wasMounted = await this.mounter.isMounted(target);
    // Mounted before the provider is called, as upstream does: a provider that writes the files itself
    // writes them into the tmpfs. The volume is fitted to the class and the payload before the files are written.
    await this.mounter.mount(target, settingsBeforeFetch(request.mountGroup));
    let mounted: MountedVolume;
    try {
      mounted = await this.fetchAndApply(request, lease);
    } catch (error) {
      if (!wasMounted) {
        await this.mounter.unmount(target);
        await this.mounter.removeTarget(target);
      }
      throw error;
    }
    this.logger.info('volume mounted', {
      pod: `${request.pod.namespace}/${request.pod.name}`,
      class: request.className,
      target,
      objects: mounted.binding.objectVersions.length,
    });
    return mounted;
  }

  private async fetchAndApply(request: VolumeRequest, lease: AnswerLease): Promise<MountedVolume> {
    const { spc, payload } = await this.fetch.execute(request, []);
    lease.answered(answerBytes(payload.files));
    let result: ApplyResult;
    try {
      result = await this.apply.execute({ request, spc, payload, previousVersions: [], syncSecretsAnyway: true, secretFailureReason: EventReason.failedToCreateSecret });
    } catch (error) {
      throw toDomainError(error).forProvider(spc.provider);
    }
    const now = this.clock.now();
    const binding: VolumeBinding = {
      request,
      providerName: spc.provider,
      objectVersions: payload.objectVersions,
      classGeneration: spc.generation,
      secretsInSync: (result.secrets?.failures.length ?? 0) === 0,
      mountedAt: now,
      contentConfirmedAt: now,
      rotationReport: {},
    };
    return { binding, spc };
  }
}
