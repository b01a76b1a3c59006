import { onePerAudience, type TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';
import type { Clock } from '../../ports/clock.js';
import type { TokenSource } from '../../ports/token-source.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';

/** The lifetime the API server gives a TokenRequest that asks for none. */
const DEFAULT_EXPIRATION_SECONDS = 3600;

/**
 * Service-account tokens for the in-memory cluster: the JSON shape kubelet and the TokenRequest API
 * give, with tokens that are plainly fake (`memory-cluster-token:<namespace>:<serviceaccount>:<audience>:<n>`,
 * not JWTs, signed by nothing) that expire the requested expirationSeconds (default one hour) after the
 * clock's now.
 */
export class MemoryTokenSource implements TokenSource {
  private minted = 0;

  constructor(private readonly clock: Clock) {}

  async tokensFor(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    if (requests.length === 0) return undefined;
    const serviceAccount = pod.serviceAccountName || 'default';
    const tokens = onePerAudience(requests).map(({ audience, expirationSeconds = DEFAULT_EXPIRATION_SECONDS }) => [
      audience,
      {
        token: `memory-cluster-token:${pod.namespace}:${serviceAccount}:${audience}:${++this.minted}`,
        expirationTimestamp: toKubeTime(this.clock.now() + expirationSeconds * 1000),
      },
    ]);
    return JSON.stringify(Object.fromEntries(tokens));
  }
}
