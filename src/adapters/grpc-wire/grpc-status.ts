/** The gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const NAMES: readonly string[] = Object.keys(GrpcStatus);

/** The canonical name of a gRPC status code, e.g. `UNAVAILABLE`. */
export function statusName(code: number): string {
  return NAMES[code] ?? `STATUS_${code}`;
}

/** A call that ended with a status other than OK: its code and the status message. */
export class GrpcCallError extends Error {
  constructor(readonly code: number, readonly details: string) {
    super(`${code} ${statusName(code)}: ${details}`);
    this.name = 'GrpcCallError';
  }
}

/** A message refused for its length before it is read, in grpc-js' wording: RESOURCE_EXHAUSTED with both sizes. */
export class MessageTooLargeError extends GrpcCallError {
  constructor(readonly size: number, readonly limit: number) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${size} vs ${limit})`);
  }
}

/**
 * The status of an answer without `grpc-status`, from its HTTP status, as gRPC's HTTP-to-status table
 * says (doc/http-grpc-status-mapping.md in grpc/grpc) and grpc-js does.
 */
export function statusFromHttp(httpStatus: number): GrpcCallError {
  return new GrpcCallError(HTTP_STATUS_CODES.get(httpStatus) ?? GrpcStatus.UNKNOWN, `Received HTTP status code ${httpStatus}`);
}

const HTTP_STATUS_CODES: ReadonlyMap<number, number> = new Map([
  [400, GrpcStatus.INTERNAL],
  [401, GrpcStatus.UNAUTHENTICATED],
  [403, GrpcStatus.PERMISSION_DENIED],
  [404, GrpcStatus.UNIMPLEMENTED],
  [429, GrpcStatus.UNAVAILABLE],
  [502, GrpcStatus.UNAVAILABLE],
  [503, GrpcStatus.UNAVAILABLE],
  [504, GrpcStatus.UNAVAILABLE],
]);

/** `grpc-message` as sent: percent-encoded UTF-8 (a malformed escape stays as it is). */
export function percentDecoded(message: string): string {
  if (!message.includes('%')) return message;
  return message.replace(/(?:%[0-9a-fA-F]{2})+/g, (escapes) => Buffer.from(escapes.replaceAll('%', ''), 'hex').toString('utf8'));
}
