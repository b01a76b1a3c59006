import type { ProviderMountRequest, ProviderMountResponse } from '../../src/domain/provider-request.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import type { ProviderCallOptions, SecretProvider } from '../../src/ports/secret-provider.js';

/** Changes a provider answer before the driver sees it (a provider that misbehaves). */
export type AnswerRewrite = (answer: ProviderMountResponse) => ProviderMountResponse;

/** A Mount call held open until the test releases it (or its caller gives it up). */
export interface HeldMount {
  /** Resolves once a Mount call is waiting at the gate. */
  readonly entered: Promise<void>;
  /** Resolves with the reason when the caller gave the held call up (its signal aborted). */
  readonly cancelled: Promise<unknown>;
  release(): void;
}

/** Every Mount call of one provider held open until released or given up (a provider that hangs). */
export interface HungProvider {
  /** Calls waiting now. */
  readonly waiting: number;
  /** Calls given up by their callers so far. */
  readonly cancelled: number;
  /** Lets the waiting calls and every later one through. */
  release(): void;
}

/**
 * A SecretProvider double in front of another provider (the in-process fake): passes calls through,
 * counts them, remembers every secret value it handed out (to look for leaks), and on demand holds
 * Mount calls at a gate or rewrites the answers.
 */
export class ProviderDouble implements SecretProvider {
  calls = 0;
  readonly callsByProvider = new Map<string, number>();
  private readonly handedOut = new Set<string>();
  private rewrite: AnswerRewrite | undefined;
  private gate: Gate | undefined;
  private readonly hung = new Map<string, Gate & { waiting: number; cancelled: number }>();

  constructor(private readonly inner: SecretProvider) {}

  /** Every file content this provider returned, as text. */
  get secretValues(): readonly string[] {
    return [...this.handedOut];
  }

  /** Rewrites every following answer until `answerWith(undefined)`. */
  answerWith(rewrite: AnswerRewrite | undefined): void {
    this.rewrite = rewrite;
  }

  /** Answers with these files (and the inner provider's versions) from now on. */
  answerFiles(files: readonly SecretFile[]): void {
    this.answerWith((answer) => ({ ...answer, files }));
  }

  /** Holds the next Mount call (only that one) at a gate until `release()` or until its caller gives it up. */
  holdNext(): HeldMount {
    let arrived!: () => void;
    let open!: () => void;
    let cancel!: (reason: unknown) => void;
    const entered = new Promise<void>((resolve) => (arrived = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    const cancelled = new Promise<unknown>((resolve) => (cancel = resolve));
    this.gate = { opened, arrived, cancel };
    return {
      entered,
      cancelled,
      release: () => open(),
    };
  }

  /** Holds every Mount call to `providerName` from now on, until `release()`. */
  hang(providerName: string): HungProvider {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate = { opened, arrived: () => undefined, cancel: () => undefined, waiting: 0, cancelled: 0 };
    gate.arrived = () => void gate.waiting++;
    gate.cancel = () => {
      gate.waiting--;
      gate.cancelled++;
    };
    this.hung.set(providerName, gate);
    return {
      get waiting() {
        return gate.waiting;
      },
      get cancelled() {
        return gate.cancelled;
      },
      release: () => {
        this.hung.delete(providerName);
        open();
      },
    };
  }

  async mount(providerName: string, request: ProviderMountRequest, options: ProviderCallOptions = {}): Promise<ProviderMountResponse> {
    this.calls += 1;
    this.callsByProvider.set(providerName, (this.callsByProvider.get(providerName) ?? 0) + 1);
    const gate = this.gate ?? this.hung.get(providerName);
    this.gate = undefined;
    if (gate !== undefined) {
      gate.arrived();
      await untilOpenedOrAborted(gate, options.signal);
    }
    const answer = await this.inner.mount(providerName, request, options);
    const rewritten = this.rewrite ? this.rewrite(answer) : answer;
    for (const file of rewritten.files) this.handedOut.add(new TextDecoder().decode(file.contents));
    return rewritten;
  }
}

interface Gate {
  readonly opened: Promise<void>;
  readonly arrived: () => void;
  readonly cancel: (reason: unknown) => void;
}

/** Waits at the gate; an aborted signal gives up the wait (as the gRPC client cancels its call). */
function untilOpenedOrAborted(gate: Gate, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return gate.opened;
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      gate.cancel(signal.reason);
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    void gate.opened.then(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
  });
}
