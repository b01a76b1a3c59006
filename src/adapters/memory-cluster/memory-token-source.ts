import type { PodIdentity } from '../../domain/volume-binding.js';
import type { Clock } from '../../ports/clock.js';
import type { TokenSource } from '../../ports/token-source.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';

/** The lifetime the API server gives a TokenRequest that asks for none. */
const DEFAULT_LIFETIME_MS = 3_600_000;

/**
 * Service-account tokens for the in-memory cluster: the JSON shape kubelet and the TokenRequest API
 * give, with tokens that are plainly fake (`memory-cluster-token:<namespace>:<serviceaccount>:<audience>:<n>`,
 * not JWTs, signed by nothing) and expire `lifetimeMs` after the clock's now.
 */
export class MemoryTokenSource implements TokenSource {
  private minted = 0;

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeMs = DEFAULT_LIFETIME_MS,
  ) {}

  async tokensFor(pod: PodIdentity, audiences: readonly string[]): Promise<string | undefined> {
    if (audiences.length === 0) return undefined;
    const expirationTimestamp = toKubeTime(this.clock.now() + this.lifetimeMs);
    const serviceAccount = pod.serviceAccountName || 'default';
    const tokens: Record<string, { token: string; expirationTimestamp: string }> = {};
    for (const audience of new Set(audiences)) {
      tokens[audience] = { token: `memory-cluster-token:${pod.namespace}:${serviceAccount}:${audience}:${++this.minted}`, expirationTimestamp };
    }
    return JSON.stringify(tokens);
  }
}
