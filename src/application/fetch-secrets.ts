import { DomainError, toDomainError } from '../domain/errors.js';
import type { ObjectVersion } from '../domain/object-versions.js';
import { buildMountRequest, interpretMountResponse, type ProviderPayload } from '../domain/provider-request.js';
import { assertMountable, type SecretProviderClass } from '../domain/secret-provider-class.js';
import type { VolumeRequest } from '../domain/volume-binding.js';
import type { SecretProvider } from '../ports/secret-provider.js';
import type { SecretProviderClassSource } from '../ports/secret-provider-class-source.js';

export interface FetchedSecrets {
  readonly spc: SecretProviderClass;
  readonly payload: ProviderPayload;
}

/** Resolves the binding's class as it is now and asks its provider for the current secrets. */
export class FetchSecrets {
  constructor(
    private readonly classes: SecretProviderClassSource,
    private readonly provider: SecretProvider,
  ) {}

  async execute(request: VolumeRequest, currentVersions: readonly ObjectVersion[]): Promise<FetchedSecrets> {
    const { namespace } = request.pod;
    const spc = await this.classes.get(namespace, request.className);
    if (spc === undefined) {
      throw new DomainError('ClassNotFound', `failed to get secretproviderclass ${namespace}/${request.className}: not found`);
    }
    try {
      assertMountable(spc);
      const response = await this.provider.mount(spc.provider, buildMountRequest(spc, request, currentVersions));
      return { spc, payload: interpretMountResponse(spc.provider, response) };
    } catch (error) {
      throw toDomainError(error).forProvider(spc.provider);
    }
  }
}
