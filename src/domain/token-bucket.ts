/**
 * A token bucket (`--provider-qps`, `--provider-burst`): `qps` tokens flow in per second up to
 * `burst`; each provider call takes one. `qps` 0 (or less) means no limit.
 */
export interface RateLimit {
  readonly qps: number;
  readonly burst: number;
}

export interface TokenBucket {
  readonly tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  readonly at: number;
}

export interface TakeResult {
  readonly bucket: TokenBucket;
  readonly taken: boolean;
  /** How long until a token is there, when none was taken (0 when one was). */
  readonly waitMs: number;
}

/** Rounding slack: a refill that lands a hair below a whole token counts as one. */
const EPSILON = 1e-9;

export function isUnlimited(limit: RateLimit): boolean {
  return !(limit.qps > 0);
}

/** A full bucket (at least one token, so a burst below 1 still lets calls through at `qps`). */
export function fullBucket(limit: RateLimit, now: number): TokenBucket {
  return { tokens: capacity(limit), at: now };
}

export function refill(bucket: TokenBucket, limit: RateLimit, now: number): TokenBucket {
  if (now <= bucket.at) return bucket;
  return { tokens: Math.min(capacity(limit), bucket.tokens + ((now - bucket.at) * limit.qps) / 1000), at: now };
}

/** Takes a token when one is there; otherwise says how long until there is one. */
export function takeToken(bucket: TokenBucket, limit: RateLimit, now: number): TakeResult {
  if (isUnlimited(limit)) return { bucket, taken: true, waitMs: 0 };
  const current = refill(bucket, limit, now);
  if (current.tokens >= 1 - EPSILON) return { bucket: { tokens: Math.max(0, current.tokens - 1), at: current.at }, taken: true, waitMs: 0 };
  return { bucket: current, taken: false, waitMs: Math.max(1, Math.ceil(((1 - current.tokens) * 1000) / limit.qps)) };
}

function capacity(limit: RateLimit): number {
  return Math.max(1, Math.floor(limit.burst));
}
