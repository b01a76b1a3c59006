import { toDomainError } from '../domain/errors.js';
import { EventReason } from '../domain/events.js';
import type { ProviderPayload } from '../domain/provider-request.js';
import type { SecretProviderClass } from '../domain/secret-provider-class.js';
import type { VolumeBinding, VolumeRequest } from '../domain/volume-binding.js';
import { volumeSettings } from '../domain/volume-ownership.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';
import type { ApplyPayload, ApplyResult } from './apply-payload.js';
import type { FetchSecrets } from './fetch-secrets.js';

export interface MountedVolume {
  readonly binding: VolumeBinding;
  /** The class as it was mounted (its annotations steer rotation). */
  readonly spc: SecretProviderClass;
}

/**
 * First mount of a volume: check the target, fetch from the provider, mount the tmpfs (sized for the
 * payload, owned by the pod's fsGroup when kubelet passed one), write the files, record the pod status
 * and sync Secrets. A failure before the files are in place unmounts what this call mounted, so
 * kubelet's retry starts clean and nothing half-written stays behind.
 */
export class PublishVolume {
  constructor(
    private readonly fetch: FetchSecrets,
    private readonly mounter: VolumeMounter,
    private readonly apply: ApplyPayload,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async execute(request: VolumeRequest): Promise<MountedVolume> {
    // The path checked here is the one every later step (mount, write, status, unmount) uses.
    await this.mounter.checkTarget(request.target);
    const { spc, payload } = await this.fetch.execute(request, []);
    let result: ApplyResult;
    try {
      result = await this.mountAndApply(request, spc, payload);
    } catch (error) {
      throw toDomainError(error).forProvider(spc.provider);
    }
    this.logger.info('volume mounted', {
      pod: `${request.pod.namespace}/${request.pod.name}`,
      class: request.className,
      target: request.target.path,
      objects: payload.objectVersions.length,
    });
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

  private async mountAndApply(request: VolumeRequest, spc: SecretProviderClass, payload: ProviderPayload): Promise<ApplyResult> {
    const target = request.target.path;
    const wasMounted = await this.mounter.isMounted(target);
    await this.mounter.mount(target, volumeSettings(request.mountGroup, spc, payload.files).settings);
    try {
      return await this.apply.execute({ request, spc, payload, previousVersions: [], syncSecretsAnyway: true, secretFailureReason: EventReason.failedToCreateSecret });
    } catch (error) {
      if (!wasMounted) {
        await this.mounter.unmount(target);
        await this.mounter.removeTarget(target);
      }
      throw error;
    }
  }
}
