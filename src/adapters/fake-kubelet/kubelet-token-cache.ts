import { earliestExpiry, parseServiceAccountTokens, type TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';

/** kubelet renews a token once less than this share of its lifetime is left... */
const RENEW_AT_REMAINING_SHARE = 0.2;
/** ...or once it is this old, whatever its lifetime. */
const MAX_TOKEN_AGE_MS = 24 * 3600_000;

interface CachedTokens {
  readonly key: string;
  readonly json: string;
  readonly renewAtMs: number;
}

/**
 * kubelet's service-account token manager, per pod: the tokens minted for a pod's volume are passed
 * again on every republish until less than 20% of their lifetime is left or they are 24 hours old
 * (kubelet adds up to 10 s of jitter to both; this cache does not), or the requests change.
 */
export class KubeletTokenCache {
  private readonly byPod = new Map<string, CachedTokens>();

  constructor(
    private readonly mint: (pod: PodIdentity, requests: readonly TokenRequest[]) => Promise<string | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  async tokensFor(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    if (requests.length === 0) return undefined;
    const key = JSON.stringify([pod.namespace, pod.name, pod.serviceAccountName, requests]);
    const cached = this.byPod.get(pod.uid);
    const mintedAt = this.now();
    if (cached !== undefined && cached.key === key && mintedAt < cached.renewAtMs) return cached.json;
    const json = await this.mint(pod, requests);
    if (json === undefined) return undefined;
    const parsed = parseServiceAccountTokens(json);
    const expiresAt = parsed.ok ? earliestExpiry(parsed.tokens) : undefined;
    // Tokens without a readable expiry are minted again on the next call.
    const renewAtMs = expiresAt === undefined ? mintedAt : Math.min(expiresAt - (expiresAt - mintedAt) * RENEW_AT_REMAINING_SHARE, mintedAt + MAX_TOKEN_AGE_MS);
    this.byPod.set(pod.uid, { key, json, renewAtMs });
    return json;
  }

  forget(podUid: string): void {
    this.byPod.delete(podUid);
  }
}
