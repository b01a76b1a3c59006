import type { TokenRequest } from '../domain/service-account-tokens.js';
import type { PodIdentity } from '../domain/volume-binding.js';

/**
 * Requests service-account tokens for a pod (TokenRequest API) when kubelet's are missing or stale.
 * Contract: resolves the JSON text `{"<audience>":{"token":..,"expirationTimestamp":..}}` with one token
 * per audience (the first request for a repeated audience wins), each asked with its request's
 * expirationSeconds (none: the API server's default), or undefined when no requests are given.
 * Never logs tokens.
 */
export interface TokenSource {
  tokensFor(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined>;
}
export const TokenSource = Symbol.for('TokenSource');
