import type { ProviderMountRequest, ProviderMountResponse } from '../../src/domain/provider-request.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import type { SecretProvider } from '../../src/ports/secret-provider.js';

/** Changes a provider answer before the driver sees it (a provider that misbehaves). */
export type AnswerRewrite = (answer: ProviderMountResponse) => ProviderMountResponse;

/** A Mount call held open until the test releases it. */
export interface HeldMount {
  /** Resolves once a Mount call is waiting at the gate. */
  readonly entered: Promise<void>;
  release(): void;
}

/**
 * A SecretProvider double in front of another provider (the in-process fake): passes calls through,
 * counts them, remembers every secret value it handed out (to look for leaks), and on demand holds
 * Mount calls at a gate or rewrites the answers.
 */
export class ProviderDouble implements SecretProvider {
  calls = 0;
  private readonly handedOut = new Set<string>();
  private rewrite: AnswerRewrite | undefined;
  private gate: { readonly opened: Promise<void>; readonly arrived: () => void } | undefined;

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

  /** Holds the next Mount call (only that one) at a gate until `release()`. */
  holdNext(): HeldMount {
    let arrived!: () => void;
    let open!: () => void;
    const entered = new Promise<void>((resolve) => (arrived = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, arrived };
    return {
      entered,
      release: () => open(),
    };
  }

  async mount(providerName: string, request: ProviderMountRequest): Promise<ProviderMountResponse> {
    this.calls += 1;
    const gate = this.gate;
    this.gate = undefined;
    if (gate !== undefined) {
      gate.arrived();
      await gate.opened;
    }
    const answer = await this.inner.mount(providerName, request);
    const rewritten = this.rewrite ? this.rewrite(answer) : answer;
    for (const file of rewritten.files) this.handedOut.add(new TextDecoder().decode(file.contents));
    return rewritten;
  }
}
