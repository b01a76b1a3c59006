import { fullBucket, isUnlimited, takeToken, type RateLimit, type TokenBucket } from '../domain/token-bucket.js';
import type { CancelTimer, Clock, Scheduler } from '../ports/clock.js';

/**
 * Who a provider call is for. kubelet's calls (first publish, republish) never wait for the limiter;
 * the rotation loop's calls wait their turn.
 */
export type CallOrigin = 'kubelet' | 'rotation';

interface ProviderQueue {
  bucket: TokenBucket;
  readonly waiting: (() => void)[];
  timer: CancelTimer | undefined;
}

/**
 * `--provider-qps` / `--provider-burst`: one token bucket per provider name. The rotation loop's
 * calls queue in order for a token. kubelet's calls never wait (a pod's start must not stand behind a
 * rotation backlog) but take a token when one is there, so the loop slows down while pods start.
 * Waiting uses the Scheduler port, so a ManualClock makes it deterministic.
 */
export class ProviderRateLimiter {
  private readonly queues = new Map<string, ProviderQueue>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {}

  get unlimited(): boolean {
    return isUnlimited(this.limit);
  }

  /**
   * Whether the call may go to the provider right now, taking a token if so: always for kubelet's
   * calls (they spend a token when there is one); for the loop's calls only when a token is there and
   * no earlier call is queued. When false, `acquire` queues the call.
   */
  tryAcquire(provider: string, origin: CallOrigin): boolean {
    if (this.unlimited) return true;
    const queue = this.queueOf(provider);
    const result = takeToken(queue.bucket, this.limit, this.clock.now());
    if (origin === 'rotation' && (!result.taken || queue.waiting.length > 0)) return false;
    queue.bucket = result.bucket;
    return true;
  }

  /**
   * Resolves when the call may go to the provider (at once for kubelet's calls). A call that gives up
   * (`signal`) leaves the queue and rejects with the signal's reason.
   */
  acquire(provider: string, origin: CallOrigin, signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return Promise.resolve();
    const queue = this.queueOf(provider);
    if (origin === 'kubelet') {
      this.tryAcquire(provider, origin);
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const giveUp = (): void => {
        const index = queue.waiting.indexOf(served);
        if (index >= 0) queue.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      const served = (): void => {
        signal?.removeEventListener('abort', giveUp);
        resolve();
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      queue.waiting.push(served);
      this.serve(queue);
    });
  }

  /** Rotation calls waiting for a token, over all providers (for tests and the bench). */
  get waiting(): number {
    let total = 0;
    for (const queue of this.queues.values()) total += queue.waiting.length;
    return total;
  }

  private queueOf(provider: string): ProviderQueue {
    let queue = this.queues.get(provider);
    if (queue === undefined) {
      queue = { bucket: fullBucket(this.limit, this.clock.now()), waiting: [], timer: undefined };
      this.queues.set(provider, queue);
    }
    return queue;
  }

  private serve(queue: ProviderQueue): void {
    while (queue.waiting.length > 0) {
      const result = takeToken(queue.bucket, this.limit, this.clock.now());
      queue.bucket = result.bucket;
      if (!result.taken) {
        queue.timer ??= this.scheduler.after(result.waitMs, () => {
          queue.timer = undefined;
          this.serve(queue);
        });
        return;
      }
      queue.waiting.shift()!();
    }
  }
}
