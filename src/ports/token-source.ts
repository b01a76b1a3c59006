import type { PodIdentity } from '../domain/volume-binding.js';

/**
 * Requests service-account tokens for a pod (TokenRequest API) when kubelet's are missing or stale.
 * Contract: resolves the JSON text `{"<audience>":{"token":..,"expirationTimestamp":..}}`, or
 * undefined when no audiences are configured. Never logs tokens.
 */
export interface TokenSource {
  tokensFor(pod: PodIdentity, audiences: readonly string[]): Promise<string | undefined>;
}
export const TokenSource = Symbol.for('TokenSource');
