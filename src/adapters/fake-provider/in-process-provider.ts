import { DomainError } from '../../domain/errors.js';
import type { ProviderMountRequest, ProviderMountResponse } from '../../domain/provider-request.js';
import type { SecretProvider } from '../../ports/secret-provider.js';
import { answerFakeMount } from './fake-mount.js';
import { FakeSecretStore } from './fake-secret-store.js';
import { InvalidAttributesError, MountAttributesParser } from './mount-attributes.js';

/** What the next Mount calls should do instead of answering normally. */
export type InProcessFailure =
  | { readonly kind: 'provider-error'; readonly code: string }
  | { readonly kind: 'unavailable' };

/**
 * The fake provider without a socket: the same store and answers as the gRPC fake, called directly.
 * Tests and the in-memory profile change the store (`store.rotate(name)`) to simulate a rotation in
 * the external secret store, and inject failures.
 */
export class InProcessSecretProvider implements SecretProvider {
  readonly requests: { providerName: string; request: ProviderMountRequest }[] = [];
  private failure: InProcessFailure | undefined;
  private readonly attributes = new MountAttributesParser();

  constructor(readonly store: FakeSecretStore = new FakeSecretStore()) {}

  get mountCount(): number {
    return this.requests.length;
  }

  /** Makes every following Mount fail this way until `fail(undefined)`. */
  fail(failure: InProcessFailure | undefined): void {
    this.failure = failure;
  }

  async mount(providerName: string, request: ProviderMountRequest): Promise<ProviderMountResponse> {
    this.requests.push({ providerName, request });
    if (this.failure?.kind === 'unavailable') {
      throw new DomainError('ProviderUnavailable', `provider "${providerName}" is not reachable (in-process fake told to fail)`);
    }
    if (this.failure?.kind === 'provider-error') return { objectVersions: [], files: [], errorCode: this.failure.code };
    try {
      return answerFakeMount(this.store, this.attributes, request);
    } catch (error) {
      if (error instanceof InvalidAttributesError) return { objectVersions: [], files: [], errorCode: `InvalidAttributes: ${error.message}` };
      throw error;
    }
  }
}
