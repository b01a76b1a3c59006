import { DOMAIN_ERROR_CODES } from './errors.js';
import { PROVIDER_NAME_PATTERN } from './secret-provider-class.js';

/**
 * Metric label values come from a closed set, so that what a provider answers or a pod asks for can
 * never add series (each distinct value is a series a scraper keeps, and a provider's error code can
 * be any string of any length).
 */

/** The canonical gRPC status code names, the error types of a failed provider call. */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** A rotation check whose mount was fine but a synced Secret could not be written. */
export const SECRET_SYNC_FAILED = 'SecretSyncFailed';

/** The error type of anything outside the known set, e.g. a provider's own `MountResponse.error.code`. */
export const OTHER_ERROR_TYPE = 'Other';

/** `provider_requests_total{result}` of a call the provider answered without an error. */
export const SUCCESS_RESULT = 'success';

const KNOWN_ERROR_TYPES: ReadonlySet<string> = new Set<string>([...GRPC_STATUS_NAMES, ...DOMAIN_ERROR_CODES, SECRET_SYNC_FAILED]);

/**
 * The `error_type` label of an error: a gRPC status name, a DomainError code or `SecretSyncFailed`
 * as they are, anything else `Other`.
 */
export function errorTypeLabel(errorType: string): string {
  return KNOWN_ERROR_TYPES.has(errorType) ? errorType : OTHER_ERROR_TYPE;
}

/** The `result` label of `provider_requests_total`: `success`, or the error type as `errorTypeLabel` bounds it. */
export function providerResultLabel(result: string): string {
  return result === SUCCESS_RESULT ? result : errorTypeLabel(result);
}

/**
 * The `provider` label: a provider name as classes may name one (at most 30 characters of
 * `[a-zA-Z0-9_-]`), else "", the value for a failure before a valid provider is known.
 */
export function providerLabel(provider: string): string {
  return PROVIDER_NAME_PATTERN.test(provider) ? provider : '';
}
