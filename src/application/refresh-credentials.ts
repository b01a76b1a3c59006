import { DomainError } from '../domain/errors.js';
import type { SecretData } from '../domain/secret-sync-plan.js';
import { unusableTokensReason } from '../domain/service-account-tokens.js';
import type { StringMap, VolumeRequest } from '../domain/volume-binding.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PodSource } from '../ports/pod-source.js';
import type { SecretSink } from '../ports/secret-sink.js';
import type { TokenAudiences } from '../ports/token-audiences.js';
import type { TokenSource } from '../ports/token-source.js';

/**
 * Gives a binding's request the credentials a provider call needs now, since kubelet only sends them
 * with a (re)publish. Kubelet's service-account tokens are kept while each audience of the CSIDriver has
 * one that outlives the refresh margin; otherwise (expired, or none after a driver restart) new ones
 * are requested through TokenRequest, each with the lifetime the CSIDriver gives its audience, as
 * kubelet asks for them. When the request has no nodePublishSecretRef data but the pod's volume names
 * such a Secret (a binding recovered after a restart), the Secret is read.
 *
 * Resolves the request itself when nothing changed: with kubelet's credentials in place the audiences
 * come from memory and nothing is read. Rejects with a DomainError naming what failed, never a
 * credential (a missing Secret: InvalidVolumeContext; a refused token or Secret read: Internal).
 */
export class RefreshCredentials {
  constructor(
    private readonly audiences: TokenAudiences,
    private readonly tokens: TokenSource,
    private readonly pods: PodSource,
    private readonly secrets: SecretSink,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async execute(request: VolumeRequest): Promise<VolumeRequest> {
    const [serviceAccountTokens, nodePublishSecrets] = await Promise.all([this.usableTokens(request), this.nodePublishSecrets(request)]);
    if (serviceAccountTokens === request.serviceAccountTokens && nodePublishSecrets === request.nodePublishSecrets) return request;
    return { ...request, serviceAccountTokens, nodePublishSecrets };
  }

  private async usableTokens(request: VolumeRequest): Promise<string | undefined> {
    const tokenRequests = await this.audiences.requests();
    const audiences = tokenRequests.map((tokenRequest) => tokenRequest.audience);
    const reason = unusableTokensReason(request.serviceAccountTokens, audiences, this.clock.now());
    if (reason === undefined) return request.serviceAccountTokens;
    if (audiences.length === 0) return undefined;
    const { namespace, name } = request.pod;
    this.logger.debug('requesting service-account tokens', { pod: `${namespace}/${name}`, audiences, reason });
    return this.tokens.tokensFor(request.pod, tokenRequests);
  }

  private async nodePublishSecrets(request: VolumeRequest): Promise<StringMap> {
    if (Object.keys(request.nodePublishSecrets).length > 0) return request.nodePublishSecrets;
    const { namespace, name, uid } = request.pod;
    const pod = await this.pods.get(namespace, name);
    // A pod recreated under the same name is not this binding's pod: its volumes say nothing here.
    const volume = pod?.uid === uid ? pod.csiVolumes.find((candidate) => candidate.name === request.target.volumeName) : undefined;
    if (volume?.nodePublishSecretRef === undefined) return request.nodePublishSecrets;
    const secret = await this.secrets.get(namespace, volume.nodePublishSecretRef);
    if (secret === undefined) {
      throw new DomainError(
        'InvalidVolumeContext',
        `Secret ${namespace}/${volume.nodePublishSecretRef} (nodePublishSecretRef of volume "${volume.name}" of pod ${namespace}/${name}) not found`,
      );
    }
    return Object.keys(secret.data).length === 0 ? request.nodePublishSecrets : asKubeletSecrets(secret.data);
  }
}

/** Secret data as kubelet passes NodePublish secrets: each value's bytes as (UTF-8) text. */
function asKubeletSecrets(data: SecretData): StringMap {
  const decoder = new TextDecoder();
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, decoder.decode(value)]));
}
