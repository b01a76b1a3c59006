import { DomainError } from '../../domain/errors.js';
import { GrpcCallError, GrpcStatus, MessageTooLargeError, statusName } from '../grpc-wire/grpc-status.js';

/** A failed provider call as the core sees it. */
export function toProviderFailure(providerName: string, socketPath: string, error: GrpcCallError, timeoutMs: number): DomainError {
  if (error.code === GrpcStatus.UNAVAILABLE) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} is unavailable: ${error.details}`);
  }
  if (error.code === GrpcStatus.DEADLINE_EXCEEDED) {
    return new DomainError('ProviderUnavailable', `provider "${providerName}" at ${socketPath} timed out after ${timeoutMs}ms`);
  }
  // Only this side's refusal of the answer: a provider's own RESOURCE_EXHAUSTED is its failure, whatever it says.
  if (error instanceof MessageTooLargeError) {
    return new DomainError(
      'ProviderMessageTooLarge',
      `provider "${providerName}" answered with ${error.size} bytes, more than --max-call-recv-msg-size (${error.limit})`,
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
