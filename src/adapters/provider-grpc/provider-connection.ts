import { connectivityState, credentials, status, type ServiceError } from '@grpc/grpc-js';
import type { ProviderProtos } from '../../gen/load.js';
import type { CSIDriverProviderClient } from '../../gen/v1alpha1/CSIDriverProvider.js';
import type { MountRequest } from '../../gen/v1alpha1/MountRequest.js';
import type { MountResponse__Output } from '../../gen/v1alpha1/MountResponse.js';
import type { Logger } from '../../ports/logger.js';
import { isServiceError, statusName } from './grpc-failure.js';

/** The provider API version this driver speaks. */
export const PROVIDER_API_VERSION = 'v1alpha1';

export interface ProviderConnectionOptions {
  readonly providerName: string;
  readonly socketPath: string;
  readonly maxCallRecvMsgSize: number;
}

/**
 * One gRPC client for one provider socket, with the Version handshake done once before its first
 * Mount. Concurrent calls share the client and the handshake. Errors are raw gRPC ServiceErrors.
 * A retired connection takes no new calls and closes its channel once the calls under way have ended:
 * closing it at once would fail them ("Channel closed before call started") for another call's failure.
 */
export class ProviderConnection {
  readonly socketPath: string;
  private readonly providerName: string;
  private readonly client: CSIDriverProviderClient;
  private handshake: Promise<void> | undefined;
  /** Set once the handshake has settled for good: later calls go straight to Mount. */
  private handshakeDone = false;
  private callsUnderWay = 0;
  private retired = false;

  constructor(protos: ProviderProtos, options: ProviderConnectionOptions, private readonly logger: Logger) {
    this.providerName = options.providerName;
    this.socketPath = options.socketPath;
    this.client = new protos.v1alpha1.CSIDriverProvider(`unix://${options.socketPath}`, credentials.createInsecure(), {
      // Some providers reject any :authority but "localhost" (the Go driver's dialer sends it).
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': options.maxCallRecvMsgSize,
      // Per-call statistics nobody reads, and grpc-js' own retry buffering (retries are ours): both cost CPU on every call.
      'grpc.enable_channelz': 0,
      'grpc.enable_retries': 0,
    });
  }

  /** One Mount; aborting `signal` cancels the call (the provider sees CANCELLED), not a shared handshake. */
  async mount(request: MountRequest, deadline: Date, signal?: AbortSignal): Promise<MountResponse__Output> {
    this.callsUnderWay++;
    try {
      // Every call but the first few: no promise and abort listener around a handshake long done.
      if (!this.handshakeDone) await untilAborted(this.versionHandshake(deadline), signal);
      else signal?.throwIfAborted();
      return await this.call(request, deadline, signal);
    } finally {
      this.callsUnderWay--;
      if (this.retired && this.callsUnderWay === 0) this.client.close();
    }
  }

  private call(request: MountRequest, deadline: Date, signal: AbortSignal | undefined): Promise<MountResponse__Output> {
    return new Promise((resolve, reject) => {
      const call = this.client.mount(request, { deadline }, (error, response) => {
        signal?.removeEventListener('abort', cancel);
        if (error) reject(error);
        else resolve(response!);
      });
      const cancel = (): void => call.cancel();
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** True once retired or shut down: the connection must be replaced, not reused. */
  isClosed(): boolean {
    return this.retired || this.client.getChannel().getConnectivityState(false) === connectivityState.SHUTDOWN;
  }

  /** Takes no new calls; the channel closes when the calls under way have ended. */
  retire(): void {
    this.retired = true;
    if (this.callsUnderWay === 0) this.client.close();
  }

  /** Closes the channel now, failing any call under way (the driver is stopping). */
  close(): void {
    this.client.close();
  }

  private versionHandshake(deadline: Date): Promise<void> {
    this.handshake ??= this.callVersion(deadline).then(() => {
      this.handshakeDone = true;
    }, (error: unknown) => {
      if (isServiceError(error) && !isConnectionFailure(error)) {
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

  private callVersion(deadline: Date): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.version({ version: PROVIDER_API_VERSION }, { deadline }, (error, response) => {
        if (error) return reject(error);
        this.logger.info('provider connected', {
          provider: this.providerName,
          socketPath: this.socketPath,
          version: response!.version,
          runtimeName: response!.runtimeName,
          runtimeVersion: response!.runtimeVersion,
        });
        resolve();
      });
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

function isConnectionFailure(error: ServiceError): boolean {
  return error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED;
}
