import { performance } from 'node:perf_hooks';
import { GrpcStatus, statusName } from '../grpc-wire/grpc-status.js';
import type { UnaryMethod } from '../grpc-wire/protobuf-codec.js';
import type { LogFields, Logger } from '../../ports/logger.js';
import { toGrpcFailure, type GrpcFailure } from './error-status.js';
import { callSubject, describeRequest } from './redact.js';

/** `info` for calls that change the node (publish/unpublish); `debug` for probes and queries. */
export type CallLogLevel = 'info' | 'debug';

/** How a call ended: its response, or the status the client gets instead. */
export type CallOutcome<Response> = { readonly response: Response } | { readonly failure: GrpcFailure };

/** One unary method of a service: never rejects, every failure is an outcome. */
export type UnaryHandler<Request, Response> = (request: Request) => Promise<CallOutcome<Response>>;

/** A handler for each method of a service, its request and response those of the method. */
export type HandlersOf<Service> = {
  readonly [Name in keyof Service]: Service[Name] extends UnaryMethod<infer Request, infer Response> ? UnaryHandler<Request, Response> : never;
};

/**
 * Turns an async CSI method into a unary handler that logs every call (method, duration, status code,
 * volume id and target path; at debug level also the request's keys, short values and sizes, secrets
 * redacted) and maps any rejection to a gRPC status. The whole request is never logged: a pod
 * controls its volume context, and a value of megabytes would be megabytes of log per call.
 */
export function unaryCall<Request, Response>(
  method: string,
  logger: Logger,
  level: CallLogLevel,
  run: (request: Request) => Promise<Response>,
): UnaryHandler<Request, Response> {
  return async (request) => {
    const startedAt = performance.now();
    logger.debug('csi call received', { method, request: describeRequest(request) });
    const fields = (code: number): LogFields => ({
      method,
      code: statusName(code),
      durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      ...callSubject(request),
    });
    try {
      const response = await run(request);
      logger[level]('csi call', fields(GrpcStatus.OK));
      return { response };
    } catch (error) {
      const failure = toGrpcFailure(error);
      logFailure(logger, fields(failure.code), failure.details, error);
      return { failure };
    }
  };
}

function logFailure(logger: Logger, fields: LogFields, details: string, error: unknown): void {
  if (fields.code === statusName(GrpcStatus.INTERNAL)) {
    // The caller only sees a generic message; keep what happened for the operator.
    const original = error instanceof Error && error.cause !== undefined ? error.cause : error;
    const cause = original instanceof Error ? `${original.name}: ${original.message}` : String(original);
    logger.error('csi call failed', { ...fields, error: details, cause });
  } else {
    logger.warn('csi call failed', { ...fields, error: details });
  }
}
