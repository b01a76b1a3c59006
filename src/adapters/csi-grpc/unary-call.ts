import { performance } from 'node:perf_hooks';
import { status, type handleUnaryCall } from '@grpc/grpc-js';
import type { LogFields, Logger } from '../../ports/logger.js';
import { toGrpcFailure } from './error-status.js';
import { callSubject, describeRequest } from './redact.js';

/** `info` for calls that change the node (publish/unpublish); `debug` for probes and queries. */
export type CallLogLevel = 'info' | 'debug';

/**
 * Turns an async CSI method into a grpc-js unary handler that logs every call (method, duration, status
 * code, volume id and target path; at debug level also the request's keys, short values and sizes,
 * secrets redacted) and maps any rejection to a gRPC status. The whole request is never logged: a pod
 * controls its volume context, and a value of megabytes would be megabytes of log per call.
 */
export function unaryCall<Request, Response>(
  method: string,
  logger: Logger,
  level: CallLogLevel,
  run: (request: Request) => Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    const startedAt = performance.now();
    logger.debug('csi call received', { method, request: describeRequest(call.request) });
    const fields = (code: status): LogFields => ({
      method,
      code: status[code],
      durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      ...callSubject(call.request),
    });
    run(call.request).then(
      (response) => {
        logger[level]('csi call', fields(status.OK));
        callback(null, response);
      },
      (error: unknown) => {
        const failure = toGrpcFailure(error);
        logFailure(logger, fields(failure.code), failure.details, error);
        callback({ code: failure.code, details: failure.details });
      },
    );
  };
}

function logFailure(logger: Logger, fields: LogFields, details: string, error: unknown): void {
  if (fields.code === status[status.INTERNAL]) {
    // The caller only sees a generic message; keep what happened for the operator.
    const original = error instanceof Error && error.cause !== undefined ? error.cause : error;
    const cause = original instanceof Error ? `${original.name}: ${original.message}` : String(original);
    logger.error('csi call failed', { ...fields, error: details, cause });
  } else {
    logger.warn('csi call failed', { ...fields, error: details });
  }
}
