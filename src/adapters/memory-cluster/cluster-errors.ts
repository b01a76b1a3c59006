/** The Status reasons of the API server that the driver can run into, with their HTTP codes. */
export const KUBE_ERROR_CODES = {
  AlreadyExists: 409,
  Conflict: 409,
  NotFound: 404,
  Invalid: 422,
  InternalError: 500,
} as const;

export type KubeErrorReason = keyof typeof KUBE_ERROR_CODES;

/** A failed API call, typed by the reason the API server would report (`Status.reason`). */
export class KubeApiError extends Error {
  readonly reason: KubeErrorReason;
  readonly code: number;

  constructor(reason: KubeErrorReason, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.reason = reason;
    this.code = KUBE_ERROR_CODES[reason];
  }
}

export function isKubeApiError(value: unknown, reason?: KubeErrorReason): value is KubeApiError {
  return value instanceof KubeApiError && (reason === undefined || value.reason === reason);
}
