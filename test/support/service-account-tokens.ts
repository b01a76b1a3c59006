import { TOKEN_REFRESH_MARGIN_MS, unusableTokensReason } from '../../src/domain/service-account-tokens.js';

/** Whether the tokens can serve a provider call for every wanted audience now: the driver's rule, as a predicate for assertions. */
export function tokensUsable(json: string | undefined, audiences: readonly string[], nowMs: number, marginMs = TOKEN_REFRESH_MARGIN_MS): boolean {
  return unusableTokensReason(json, audiences, nowMs, marginMs) === undefined;
}
