import { status, type ServiceError } from '@grpc/grpc-js';
import { DomainError } from '../../domain/errors.js';

/** The canonical name of a gRPC status code, e.g. `UNAVAILABLE`. */
export function statusName(code: number): string {
  return status[code] ?? `STATUS_${code}`;
}

export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number' && 'metadata' in value;
}

/** grpc-js' own refusal of an answer over `grpc.max_receive_message_length`: `(<size> vs <limit>)`. */
const TOO_LARGE = /^Received message larger than max \((\d+) vs\.? (\d+)\)/;

/** A failed provider call as the core sees it. */
export function toProviderFailure(providerName: string, socketPath: string, error: ServiceError, timeoutMs: number): DomainError {
  if (error.code === status.UNAVAILABLE) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} is unavailable: ${error.details}`);
  }
  if (error.code === status.DEADLINE_EXCEEDED) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} timed out after ${timeoutMs}ms`);
  }
  const tooLarge = error.code === status.RESOURCE_EXHAUSTED ? TOO_LARGE.exec(error.details) : null;
  if (tooLarge) {
    return new DomainError(
      'ProviderMessageTooLarge',
      `provider "${providerName}" answered with ${tooLarge[1]} bytes, more than --max-call-recv-msg-size (${tooLarge[2]})`,
      statusName(error.code),
    );
  }
  const name = statusName(error.code);
  return new DomainError('ProviderError', `provider "${providerName}" failed: ${name}: ${error.details}`, name);
}

/** The call was given up by its caller (an unpublish of the target won over a rotation check). */
export function cancelledCall(providerName: string): DomainError {
  return new DomainError('Cancelled', `call to provider "${providerName}" cancelled: the check was given up`);
}
