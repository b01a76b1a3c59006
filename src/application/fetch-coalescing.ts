import type { FetchKey } from '../domain/fetch-key.js';
import type { ProviderMountResponse } from '../domain/provider-request.js';
import type { CallOrigin } from './provider-rate-limiter.js';

/** What a fetch is for: who waits on it, and the rotation pass it belongs to (if any). */
export interface FetchContext {
  readonly origin: CallOrigin;
  /** Present for the rotation loop's checks: bindings of one pass may share a provider call. */
  readonly pass?: FetchPass;
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

interface SharedCall {
  readonly answer: Promise<ProviderMountResponse>;
  /** False once the answer showed the provider writes files itself: later bindings call on their own. */
  joinable: boolean;
}

export interface SharedAnswer {
  readonly response: ProviderMountResponse;
  /** True when this binding used another binding's call. */
  readonly shared: boolean;
}

/**
 * One rotation pass's shared provider calls (class annotation `fetch-sharing: serviceaccount`). The
 * first binding of a sharing key makes the call with its own request (its target path, its current
 * versions); later bindings of the same pass take that answer and write it into their own targets.
 * Answers live only as long as the pass: `close()` forgets them, and a closed pass shares nothing.
 * A failed call fails every binding that shares it. An answer without files (the provider wrote them
 * into the first binding's target) is not shared: each other binding makes its own call.
 */
export class FetchPass {
  private readonly calls = new KeyedTable<SharedCall>();
  private closed = false;

  /**
   * The answer for `key` in this pass. `call` makes this binding's own call; `onUnshareable` hears
   * (once per key) that the provider writes files itself.
   */
  async share(key: FetchKey, call: () => Promise<ProviderMountResponse>, onUnshareable: () => void): Promise<SharedAnswer> {
    const existing = this.closed ? undefined : this.calls.find(key);
    if (existing === undefined) {
      const answer = call();
      if (!this.closed) this.calls.set(key, { answer, joinable: true });
      return { response: await answer, shared: false };
    }
    if (existing.joinable) {
      const response = await existing.answer;
      if (!providerWroteFiles(response)) return { response, shared: true };
      if (existing.joinable) {
        existing.joinable = false;
        onUnshareable();
      }
    }
    return { response: await call(), shared: false };
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
