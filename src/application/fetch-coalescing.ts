import type { FetchKey } from '../domain/fetch-key.js';
import type { ProviderMountResponse } from '../domain/provider-request.js';
import type { CallOrigin } from './provider-rate-limiter.js';

/** What a fetch is for: who waits on it, the rotation pass it belongs to (if any), how long it may take. */
export interface FetchContext {
  readonly origin: CallOrigin;
  /** Present for the rotation loop's checks: bindings of one pass may share a provider call. */
  readonly pass?: FetchPass;
  /** The provider call's deadline in milliseconds (absent: the provider adapter's own). */
  readonly timeoutMs?: number;
  /** Gives the fetch up (an unpublish of the target): the waiting caller rejects at once. */
  readonly signal?: AbortSignal;
}

/** kubelet's calls (publish, republish): never rate-limited, never shared with other bindings. */
export const KUBELET_FETCH: FetchContext = Object.freeze({ origin: 'kubelet' });

/** Values by FetchKey: bucketed by the printable id, matched exactly with `equals`. */
export class KeyedTable<V> {
  private readonly buckets = new Map<string, { key: FetchKey; value: V }[]>();

  find(key: FetchKey): V | undefined {
    return this.buckets.get(key.id)?.find((entry) => entry.key.equals(key))?.value;
  }

  set(key: FetchKey, value: V): void {
    const bucket = this.buckets.get(key.id) ?? [];
    const index = bucket.findIndex((entry) => entry.key.equals(key));
    if (index >= 0) bucket[index] = { key, value };
    else bucket.push({ key, value });
    this.buckets.set(key.id, bucket);
  }

  /** Removes the entry of `key` only while it still holds `value`. */
  delete(key: FetchKey, value: V): void {
    const bucket = this.buckets.get(key.id);
    if (bucket === undefined) return;
    const remaining = bucket.filter((entry) => !(entry.value === value && entry.key.equals(key)));
    if (remaining.length === 0) this.buckets.delete(key.id);
    else this.buckets.set(key.id, remaining);
  }

  clear(): void {
    this.buckets.clear();
  }

  get size(): number {
    let total = 0;
    for (const bucket of this.buckets.values()) total += bucket.length;
    return total;
  }
}

/** Sharing a call is refused for this answer: the provider wrote the files into the first binding's target itself. */
export function providerWroteFiles(response: ProviderMountResponse): boolean {
  return response.errorCode === '' && response.files.length === 0;
}

/**
 * One provider call that several fetches wait on. A waiter whose signal aborts stops waiting at once;
 * the call itself is cancelled only when every waiter gave up (a waiter without a signal never does).
 */
export class JoinedCall<T> {
  readonly answer: Promise<T>;
  private readonly controller = new AbortController();
  private waiters = 0;

  constructor(start: (signal: AbortSignal) => Promise<T>) {
    this.answer = start(this.controller.signal);
    this.answer.catch(() => undefined); // every waiter gets the failure; nobody left waiting is not an error
  }

  /** True once every waiter gave up and the call was cancelled: it can only fail, so nobody may join it. */
  get abandoned(): boolean {
    return this.controller.signal.aborted;
  }

  join(signal?: AbortSignal): Promise<T> {
    this.waiters++;
    if (signal === undefined) return this.answer;
    return new Promise<T>((resolve, reject) => {
      const giveUp = (): void => {
        if (--this.waiters === 0) this.controller.abort(signal.reason);
        reject(signal.reason);
      };
      if (signal.aborted) return giveUp();
      signal.addEventListener('abort', giveUp, { once: true });
      const stopListening = (): void => signal.removeEventListener('abort', giveUp);
      this.answer.then(
        (value) => {
          stopListening();
          resolve(value);
        },
        (error: unknown) => {
          stopListening();
          reject(error);
        },
      );
    });
  }
}

interface SharedCall {
  readonly call: JoinedCall<ProviderMountResponse>;
  /** False once the answer showed the provider writes files itself: later bindings call on their own. */
  joinable: boolean;
}

export interface SharedAnswer {
  readonly response: ProviderMountResponse;
  /** True when this binding used another binding's call. */
  readonly shared: boolean;
}

/** A binding's own provider call, given the signal that cancels it. */
export type OwnCall = (signal: AbortSignal | undefined) => Promise<ProviderMountResponse>;

/**
 * One rotation pass's shared provider calls (class annotation `fetch-sharing: serviceaccount`). The
 * first binding of a sharing key makes the call with its own request (its target path, its current
 * versions); later bindings of the same pass take that answer and write it into their own targets.
 * Answers live only as long as the pass: `close()` forgets them, and a closed pass shares nothing.
 * A failed call fails every binding that shares it; a binding that gives up (its signal) stops waiting,
 * and the call is cancelled once no binding waits for it. An answer without files (the provider wrote
 * them into the first binding's target) is not shared: each other binding makes its own call.
 */
export class FetchPass {
  private readonly calls = new KeyedTable<SharedCall>();
  private closed = false;

  /**
   * The answer for `key` in this pass. `call` makes this binding's own call; `onUnshareable` hears
   * (once per key) that the provider writes files itself.
   */
  async share(key: FetchKey, call: OwnCall, onUnshareable: () => void, signal?: AbortSignal): Promise<SharedAnswer> {
    const found = this.closed ? undefined : this.calls.find(key);
    const existing = found?.call.abandoned ? undefined : found;
    if (existing === undefined) {
      const shared = new JoinedCall(call);
      if (!this.closed) this.calls.set(key, { call: shared, joinable: true });
      return { response: await shared.join(signal), shared: false };
    }
    if (existing.joinable) {
      const response = await existing.call.join(signal);
      if (!providerWroteFiles(response)) return { response, shared: true };
      if (existing.joinable) {
        existing.joinable = false;
        onUnshareable();
      }
    }
    return { response: await call(signal), shared: false };
  }

  close(): void {
    this.closed = true;
    this.calls.clear();
  }

  /** Sharing keys seen in this pass (the provider calls it made, unless answers were unshareable). */
  get keys(): number {
    return this.calls.size;
  }
}
