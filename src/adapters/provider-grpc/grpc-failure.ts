import { status, type ServiceError } from '@grpc/grpc-js';
import { DomainError } from '../../domain/errors.js';

/** The canonical name of a gRPC status code, e.g. `UNAVAILABLE`. */
export function statusName(code: number): string {
  return status[code] ?? `STATUS_${code}`;
}

export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number' && 'metadata' in value;
}

/** A failed provider call as the core sees it. */
export function toProviderFailure(providerName: string, socketPath: string, error: ServiceError, timeoutMs: number): DomainError {
  if (error.code === status.UNAVAILABLE) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} is unavailable: ${error.details}`);
  }
  if (error.code === status.DEADLINE_EXCEEDED) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} timed out after ${timeoutMs}ms`);
  }
  const name = statusName(error.code);
  return new DomainError('ProviderError', `provider "${providerName}" failed: ${name}: ${error.details}`, name);
}
