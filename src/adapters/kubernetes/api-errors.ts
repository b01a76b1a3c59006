import { DomainError } from '../../domain/errors.js';

/** What the API server said about a failed call: HTTP code, Status reason and message. */
export interface ApiFailure {
  readonly code: number | undefined;
  readonly reason: string;
  readonly message: string;
}

/**
 * Reads the Status object an API error carries: ApiStatusError's, or any error with an HTTP `code` and
 * a `body` (JSON text, or already parsed), as client libraries throw them.
 */
export function apiFailure(error: unknown): ApiFailure {
  const code = statusCodeOf(error);
  if (code !== undefined) {
    const status = parseStatus((error as { body?: unknown }).body);
    const message = typeof status['message'] === 'string' && status['message'] !== '' ? status['message'] : httpText(code);
    return { code, reason: typeof status['reason'] === 'string' ? status['reason'] : '', message };
  }
  return { code: undefined, reason: '', message: error instanceof Error ? error.message : String(error) };
}

export function isNotFound(error: unknown): boolean {
  return apiFailure(error).code === 404;
}

/** A write lost a race: stale resourceVersion (Conflict) or someone created the object first (AlreadyExists). */
export function isWriteRace(error: unknown): boolean {
  return apiFailure(error).code === 409;
}

/**
 * An API failure as the DomainError the core reports: `<action>: <what the API server said>`, for
 * example `failed to create Secret ns/db: secrets "db" already exists`. Status messages name objects
 * and fields, never Secret data.
 */
export function apiError(action: string, error: unknown): DomainError {
  return new DomainError('Internal', `${action}: ${apiFailure(error).message}`);
}

function parseStatus(body: unknown): Record<string, unknown> {
  if (typeof body === 'object' && body !== null) return body as Record<string, unknown>;
  if (typeof body !== 'string' || body === '') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** API failures carry the HTTP status as `code` (or `statusCode`); a socket error's `code` is text, not a status. */
function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  return typeof code === 'number' ? code : undefined;
}

function httpText(code: number | undefined): string {
  switch (code) {
    case 401:
      return 'unauthorized: the API server did not accept the credentials';
    case 403:
      return 'forbidden';
    case 404:
      return 'not found';
    case undefined:
      return 'the API server could not be reached';
    default:
      return `the API server answered HTTP ${code}`;
  }
}
