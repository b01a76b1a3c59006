import { MessageCap, truncateText } from '../../domain/bounded-text.js';
import { isDomainError, type DomainErrorCode } from '../../domain/errors.js';
import { GrpcStatus } from '../grpc-wire/grpc-status.js';


/** A failure the adapter itself decides (request validation, unimplemented RPCs), with its GrpcStatus. */
export class CsiStatusError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'CsiStatusError';
  }
}

/** What a failed call returns to kubelet. */
export interface GrpcFailure {
  readonly code: number;
  readonly details: string;
}

const GENERIC_INTERNAL = 'internal error';

/**
 * The one place DomainError codes become gRPC codes. Kubelet treats UNAVAILABLE, ABORTED (and
 * CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) as "maybe still in progress" and everything else as
 * final; kubelet retries a failed mount either way. A final code therefore says "nothing is mounted",
 * which holds because a failed first publish cleans up before it rejects.
 */
export function grpcStatusFor(code: DomainErrorCode): number {
  switch (code) {
    // The request or the user's configuration is wrong: retrying the same thing cannot help.
    case 'InvalidTargetPath':
    case 'MissingVolumeContext':
    case 'InvalidVolumeContext':
    case 'InvalidReadonly':
    case 'InvalidClass':
    case 'InvalidDuration':
    case 'InvalidPayloadPath':
    case 'DuplicatePayloadPath':
    case 'InvalidFileMode':
    case 'InvalidSecretType':
    case 'InvalidTlsData':
      return GrpcStatus.INVALID_ARGUMENT;
    case 'ClassNotFound':
      return GrpcStatus.NOT_FOUND;
    // The provider answered, or the cluster is in a state that must change first (a secret that is
    // missing in the store, an unmanaged Secret in the way): final for this call, fixed outside.
    case 'ProviderError':
    case 'MissingObjectVersions':
    case 'ProviderAnswerTooLarge':
    case 'SecretObjectFileMissing':
    case 'SecretNotManaged':
      return GrpcStatus.FAILED_PRECONDITION;
    // Transient: the provider is down, restarting or slow.
    case 'ProviderUnavailable':
      return GrpcStatus.UNAVAILABLE;
    case 'OperationPending':
      return GrpcStatus.ABORTED;
    // Not now: the driver's payload memory budget is full, or (as upstream answers) the provider's
    // answer is larger than --max-call-recv-msg-size. kubelet retries.
    case 'PayloadMemoryExhausted':
    case 'ProviderMessageTooLarge':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    // A rotation check given up for an unpublish of its target; never a kubelet call's own outcome.
    case 'Cancelled':
      return GrpcStatus.CANCELLED;
    case 'AlreadyPublished':
      return GrpcStatus.ALREADY_EXISTS;
    // Out of space or file handles: kubelet's retry may find room (a grown volume, files closed).
    case 'VolumeFull':
    case 'TooManyOpenFiles':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'Internal':
      return GrpcStatus.INTERNAL;
    default:
      return unreachable(code);
  }
}

/**
 * Any thrown value as a gRPC failure; unknown errors never leak their message, and a message carrying
 * a provider's or a pod's text is cut to MessageCap.kubelet (it ends up in kubelet's event and log).
 */
export function toGrpcFailure(error: unknown): GrpcFailure {
  if (error instanceof CsiStatusError) return { code: error.code, details: forKubelet(error.message) };
  if (isDomainError(error)) {
    const code = grpcStatusFor(error.code);
    return { code, details: code === GrpcStatus.INTERNAL ? GENERIC_INTERNAL : forKubelet(error.message) };
  }
  return { code: GrpcStatus.INTERNAL, details: GENERIC_INTERNAL };
}

function forKubelet(message: string): string {
  return truncateText(message, MessageCap.kubelet);
}

function unreachable(code: never): never {
  throw new Error(`unmapped domain error code ${String(code)}`);
}
