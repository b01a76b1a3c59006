import type { Logger } from '../../ports/logger.js';
import { GrpcCallError, GrpcStatus, statusName } from '../grpc-wire/grpc-status.js';
import { MOUNT_METHOD, VERSION_METHOD, type MountRequest, type MountResponse } from './provider-messages.js';
import { UnaryChannel } from './unary-channel.js';

/** The provider API version this driver speaks. */
export const PROVIDER_API_VERSION = 'v1alpha1';

export interface ProviderConnectionOptions {
  readonly providerName: string;
  readonly socketPath: string;
  readonly maxCallRecvMsgSize: number;
  /** Sent as `user-agent` on every call. */
  readonly userAgent: string;
}

/**
 * One gRPC channel for one provider socket, with the Version handshake done once before its first
 * Mount. Concurrent calls share the channel and the handshake. Errors are raw GrpcCallErrors.
 * A retired connection takes no new calls and closes its channel once the calls under way have ended:
 * closing it at once would fail them for another call's failure.
 */
export class ProviderConnection {
  readonly socketPath: string;
  private readonly providerName: string;
  private readonly channel: UnaryChannel;
  private handshake: Promise<void> | undefined;
  /** Set once the handshake has settled for good: later calls go straight to Mount. */
  private handshakeDone = false;
  private callsUnderWay = 0;
  private retired = false;

  constructor(options: ProviderConnectionOptions, private readonly logger: Logger) {
    this.providerName = options.providerName;
    this.socketPath = options.socketPath;
    this.channel = new UnaryChannel({ socketPath: options.socketPath, maxReceiveMessageSize: options.maxCallRecvMsgSize, userAgent: options.userAgent });
  }

  /** One Mount; aborting `signal` cancels the call (the provider sees CANCELLED), not a shared handshake. */
  async mount(request: MountRequest, deadline: Date, signal?: AbortSignal): Promise<MountResponse> {
    this.callsUnderWay++;
    try {
      // Every call but the first few: no promise and abort listener around a handshake long done.
      if (!this.handshakeDone) await untilAborted(this.versionHandshake(deadline), signal);
      else signal?.throwIfAborted();
      return await this.channel.call(MOUNT_METHOD, request, deadline, signal);
    } finally {
      this.callsUnderWay--;
      if (this.retired && this.callsUnderWay === 0) this.channel.close();
    }
  }

  /** True once retired or shut down: the connection must be replaced, not reused. */
  isClosed(): boolean {
    return this.retired || this.channel.isClosed();
  }

  /** Takes no new calls; the channel closes when the calls under way have ended. */
  retire(): void {
    this.retired = true;
    if (this.callsUnderWay === 0) this.channel.close();
  }

  /** Closes the channel now, failing any call under way (the driver is stopping). */
  close(): void {
    this.channel.close();
  }

  private versionHandshake(deadline: Date): Promise<void> {
    this.handshake ??= this.callVersion(deadline).then(() => {
      this.handshakeDone = true;
    }, (error: unknown) => {
      if (error instanceof GrpcCallError && !isConnectionFailure(error)) {
        // An old provider without Version still mounts: note it and carry on.
        this.logger.warn('provider Version handshake failed; continuing with Mount', {
          provider: this.providerName,
          socketPath: this.socketPath,
          code: statusName(error.code),
        });
        this.handshakeDone = true;
        return;
      }
      this.handshake = undefined; // try again on the next call
      throw error;
    });
    return this.handshake;
  }

  private async callVersion(deadline: Date): Promise<void> {
    const response = await this.channel.call(VERSION_METHOD, { version: PROVIDER_API_VERSION }, deadline);
    this.logger.info('provider connected', {
      provider: this.providerName,
      socketPath: this.socketPath,
      version: response.version,
      runtimeName: response.runtimeName,
      runtimeVersion: response.runtimeVersion,
    });
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself runs on for its other waiters). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const abort = (): void => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

function isConnectionFailure(error: GrpcCallError): boolean {
  return error.code === GrpcStatus.UNAVAILABLE || error.code === GrpcStatus.DEADLINE_EXCEEDED;
}
