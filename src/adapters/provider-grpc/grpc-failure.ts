import { DomainError } from '../../domain/errors.js';
import { GrpcCallError, GrpcStatus, statusName } from '../grpc-wire/grpc-status.js';

/** The unary channel's refusal of an answer over the size limit (grpc-js' wording): `(<size> vs <limit>)`. */
const TOO_LARGE = /^Received message larger than max \((\d+) vs\.? (\d+)\)/;

/** A failed provider call as the core sees it. */
export function toProviderFailure(providerName: string, socketPath: string, error: GrpcCallError, timeoutMs: number): DomainError {
  if (error.code === GrpcStatus.UNAVAILABLE) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} is unavailable: ${error.details}`);
  }
  if (error.code === GrpcStatus.DEADLINE_EXCEEDED) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} timed out after ${timeoutMs}ms`);
  }
  const tooLarge = error.code === GrpcStatus.RESOURCE_EXHAUSTED ? TOO_LARGE.exec(error.details) : null;
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
