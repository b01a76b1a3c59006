import type { ProviderMountRequest, ProviderMountResponse } from '../domain/provider-request.js';

/**
 * An external secret store reached through its provider (provider API `Mount`).
 * Contract: safe to call concurrently; returns the provider's answer unvalidated (the core validates
 * it); a provider-reported failure is a response with a non-empty `errorCode`, not a rejection.
 * Rejects with DomainError `ProviderUnavailable` when the provider cannot be reached.
 */
export interface SecretProvider {
  mount(providerName: string, request: ProviderMountRequest): Promise<ProviderMountResponse>;
}
export const SecretProvider = Symbol.for('SecretProvider');
