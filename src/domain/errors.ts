/**
 * The closed set of failures the core can decide on. Each code maps to exactly one gRPC status in
 * the CSI adapter and is a metric `error_type` of its own; expected outcomes ("not due", "unchanged") are
 * return values, never errors.
 */
export const DOMAIN_ERROR_CODES = [
  'InvalidTargetPath',
  'MissingVolumeContext',
  'InvalidVolumeContext',
  'InvalidReadonly',
  'ClassNotFound',
  'InvalidClass',
  'InvalidDuration',
  'ProviderError',
  'ProviderUnavailable',
  'MissingObjectVersions',
  'ProviderAnswerTooLarge',
  'InvalidPayloadPath',
  'DuplicatePayloadPath',
  'InvalidFileMode',
  'SecretObjectFileMissing',
  'InvalidSecretType',
  'InvalidTlsData',
  'SecretNotManaged',
  'OperationPending',
  'AlreadyPublished',
  'VolumeFull',
  'TooManyOpenFiles',
  'PayloadMemoryExhausted',
  'ProviderMessageTooLarge',
  'Cancelled',
  'Internal',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  /** The provider's own error code when the provider reported one (any text: see `errorType`). */
  readonly providerCode: string | undefined;
  /** The provider of the class the failing operation was for, once known (the metric `provider` label). */
  readonly provider: string | undefined;

  constructor(code: DomainErrorCode, message: string, providerCode?: string, provider?: string) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.providerCode = providerCode;
    this.provider = provider;
  }

  /** The same failure, attributed to the provider of the class it happened for. */
  forProvider(provider: string): DomainError {
    const attributed = new DomainError(this.code, this.message, this.providerCode, provider);
    attributed.cause = this.cause;
    return attributed;
  }

  /**
   * What the error metrics report as `error_type`: the provider's code, else the DomainError code. The
   * metrics adapters bound it (`errorTypeLabel` in metric-labels.ts): a provider code that is not a
   * gRPC status name becomes `Other`.
   */
  get errorType(): string {
    return this.providerCode ?? this.code;
  }
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}

/**
 * Wraps anything thrown into a DomainError; unknown failures become Internal with a generic message
 * and keep the original as `cause`, for the operator's log (never for the caller).
 */
export function toDomainError(value: unknown): DomainError {
  if (isDomainError(value)) return value;
  const wrapped = new DomainError('Internal', 'internal error');
  wrapped.cause = value;
  return wrapped;
}

/**
 * A failure's own message, for events and logs on this node (an API server's refusal says what is
 * wrong). Adapters never put secret material in error messages; gRPC answers still use toDomainError.
 */
export function describeError(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
