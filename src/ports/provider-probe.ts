/** A provider's answer to the provider API's `Version` call. */
export interface ProviderVersionAnswer {
  readonly version: string;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
}

/**
 * The providers installed on this node, asked whether they answer (the health check).
 * Contract: `discover` resolves with the names of the providers that have a socket in the discovery
 * directories, each once, sorted (only names a class could use: `^[a-zA-Z0-9_-]{1,30}$`); a directory
 * that is missing or unreadable contributes none. `version` calls `Version` on the provider's socket,
 * found as a mount would find it, within `timeoutMs`; it rejects with DomainError `ProviderUnavailable`
 * (no socket, no answer in time) or `ProviderError` (an error status, its name as `providerCode`).
 * Safe to call concurrently; holds no connection between calls.
 */
export interface ProviderProbe {
  discover(): Promise<string[]>;
  version(providerName: string, timeoutMs: number): Promise<ProviderVersionAnswer>;
}
export const ProviderProbe = Symbol.for('ProviderProbe');
