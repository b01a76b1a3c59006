/**
 * The closed set of failures the core can decide on. Each code maps to exactly one gRPC status in
 * the CSI adapter and to one metric `error_type`; expected outcomes ("not due", "unchanged") are
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
  'InvalidPayloadPath',
  'DuplicatePayloadPath',
  'InvalidFileMode',
  'SecretObjectFileMissing',
  'InvalidSecretType',
  'InvalidTlsData',
  'SecretNotManaged',
  'OperationPending',
  'AlreadyPublished',
  'Internal',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  /** The provider's own error code when the provider reported one (becomes the metric error_type). */
  readonly providerCode: string | undefined;

  constructor(code: DomainErrorCode, message: string, providerCode?: string) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.providerCode = providerCode;
  }

  /** The `error_type` label of the error metrics. */
  get errorType(): string {
    return this.providerCode ?? this.code;
  }
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}

/** Wraps anything thrown into a DomainError; unknown failures become Internal with a generic message. */
export function toDomainError(value: unknown): DomainError {
  if (isDomainError(value)) return value;
  return new DomainError('Internal', 'internal error');
}
