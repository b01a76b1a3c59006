/**
 * The service-account tokens kubelet hands to the driver (`csi.storage.k8s.io/serviceAccount.tokens`):
 * JSON text `{"<audience>":{"token":"..","expirationTimestamp":"<RFC 3339>"}}`. The core only decides
 * whether they are still good enough to pass to a provider, so parsing keeps the audiences and the
 * expirations and drops the token text: nothing derived from a token can reach a message.
 */

/**
 * A token counts as expired this long before its expirationTimestamp, so a provider call that starts
 * with it does not see it expire halfway. Kubelet renews a token at 80% of its lifetime (at least ten
 * minutes), so the tokens of its last republish still have two minutes or more: they are kept.
 */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;

/**
 * One entry of the CSIDriver's `spec.tokenRequests`, which kubelet turns into a TokenRequest per pod: the
 * audience of the token ('' stands for the API server's own) and the lifetime to ask for, in seconds
 * (absent: the API server's default, one hour).
 */
export interface TokenRequest {
  readonly audience: string;
  readonly expirationSeconds?: number;
}

/** The requests in their order with one per audience: the first request for an audience wins. */
export function onePerAudience(requests: readonly TokenRequest[]): TokenRequest[] {
  const byAudience = new Map<string, TokenRequest>();
  for (const request of requests) if (!byAudience.has(request.audience)) byAudience.set(request.audience, request);
  return [...byAudience.values()];
}

/** What the core knows of one token: its audience and when it expires (epoch milliseconds). */
export interface TokenValidity {
  readonly audience: string;
  readonly expiresAtMs: number;
}

export type ParsedTokens =
  | { readonly ok: true; readonly tokens: readonly TokenValidity[] }
  | { readonly ok: false; readonly problem: string };

/**
 * Reads kubelet's token JSON. Never throws: text that is not the expected shape gives a problem that
 * names the audience and the field at fault, never a value (JSON.parse's own message quotes the input,
 * so it is not passed on).
 */
export function parseServiceAccountTokens(json: string): ParsedTokens {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return problem('the service-account tokens are not JSON');
  }
  if (!isObject(parsed)) return problem('the service-account tokens are not a JSON object');
  const tokens: TokenValidity[] = [];
  for (const [audience, entry] of Object.entries(parsed)) {
    const ref = `the service-account token for audience ${JSON.stringify(audience)}`;
    if (!isObject(entry)) return problem(`${ref} is not a JSON object`);
    if (typeof entry['token'] !== 'string' || entry['token'] === '') return problem(`${ref} has no token`);
    const expiresAtMs = typeof entry['expirationTimestamp'] === 'string' ? parseRfc3339(entry['expirationTimestamp']) : undefined;
    if (expiresAtMs === undefined) return problem(`${ref} has no RFC 3339 expirationTimestamp`);
    tokens.push({ audience, expiresAtMs });
  }
  return { ok: true, tokens };
}

/** When the first of these tokens expires; undefined for none. */
export function earliestExpiry(tokens: readonly TokenValidity[]): number | undefined {
  return tokens.length === 0 ? undefined : Math.min(...tokens.map((token) => token.expiresAtMs));
}

/**
 * Why the tokens (undefined: none) cannot serve a provider call for `audiences` now, or undefined when
 * they can: they parse, and each wanted audience has a token that expires later than now + margin.
 * Tokens for other audiences do not matter; no wanted audience means nothing is needed.
 */
export function unusableTokensReason(
  json: string | undefined,
  audiences: readonly string[],
  nowMs: number,
  marginMs = TOKEN_REFRESH_MARGIN_MS,
): string | undefined {
  // The common case, asked on every rotation check: no token wanted, none held.
  if (json === undefined && audiences.length === 0) return undefined;
  const parsed: ParsedTokens = json === undefined ? { ok: true, tokens: [] } : parseServiceAccountTokens(json);
  if (!parsed.ok) return parsed.problem;
  const byAudience = new Map(parsed.tokens.map((token) => [token.audience, token]));
  const wanted = [...new Set(audiences)];
  const missing = wanted.filter((audience) => !byAudience.has(audience));
  if (missing.length > 0) return `no service-account token for audience ${missing.map((audience) => JSON.stringify(audience)).join(', ')}`;
  const expiry = earliestExpiry(wanted.map((audience) => byAudience.get(audience)!));
  if (expiry === undefined || expiry > nowMs + marginMs) return undefined;
  const at = new Date(expiry).toISOString();
  return expiry <= nowMs ? `a service-account token expired at ${at}` : `a service-account token expires at ${at}, within the ${marginMs / 1000}s refresh margin`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 date-time (as Go's time.Time marshals it) -> epoch milliseconds; undefined when malformed. */
function parseRfc3339(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 9, 10].map((group) => Number(match[group] ?? 0)) as [
    number, number, number, number, number, number, number, number,
  ];
  const dateValid = month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
  // Second 60 is a leap second; Date.UTC carries it into the next minute.
  const timeValid = hour <= 23 && minute <= 59 && second <= 60 && offsetHours <= 23 && offsetMinutes <= 59;
  if (!dateValid || !timeValid) return undefined;
  const fractionMs = Math.floor(Number(`0.${match[7] ?? '0'}`) * 1000);
  const offsetMs = (match[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return Date.UTC(year, month - 1, day, hour, minute, second) + fractionMs - offsetMs;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function problem(text: string): ParsedTokens {
  return { ok: false, problem: text };
}
