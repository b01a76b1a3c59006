import type { ProviderMountRequest, ProviderMountResponse } from '../domain/provider-request.js';

/** How long one call may take and who may give it up. */
export interface ProviderCallOptions {
  /** The call's deadline in milliseconds from now (else the adapter's own, meant for kubelet's calls). */
  readonly timeoutMs?: number;
  /** Aborting it cancels the call (the provider sees the cancellation) and rejects with `Cancelled`. */
  readonly signal?: AbortSignal;
}

/**
 * An external secret store reached through its provider (provider API `Mount`).
 * Contract: safe to call concurrently; returns the provider's answer unvalidated (the core validates
 * it); a provider-reported failure is a response with a non-empty `errorCode`, not a rejection.
 * Rejects with DomainError `ProviderUnavailable` when the provider cannot be reached or misses the
 * deadline, `ProviderMessageTooLarge` when its answer exceeds `--max-call-recv-msg-size`, and
 * `Cancelled` when `signal` aborted first.
 */
export interface SecretProvider {
  mount(providerName: string, request: ProviderMountRequest, options?: ProviderCallOptions): Promise<ProviderMountResponse>;
}
export const SecretProvider = Symbol.for('SecretProvider');
