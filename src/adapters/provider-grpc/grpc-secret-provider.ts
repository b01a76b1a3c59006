import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../../domain/errors.js';
import type { ProviderMountRequest, ProviderMountResponse } from '../../domain/provider-request.js';
import type { Logger } from '../../ports/logger.js';
import type { ProviderCallOptions, SecretProvider } from '../../ports/secret-provider.js';
import { cancelledCall, toProviderFailure } from './grpc-failure.js';
import { GrpcCallError, GrpcStatus } from '../grpc-wire/grpc-status.js';
import { fromWireMountResponse, toWireMountRequest } from './mount-mapping.js';
import { ProviderConnection } from './provider-connection.js';
import { findProviderSocket, validateProviderName } from './socket-discovery.js';

export interface ProviderRetryOptions {
  /** Calls made in total when the provider answers UNAVAILABLE (1 = no retry). */
  readonly attempts: number;
  /** Wait before the first retry; doubles for each further retry. */
  readonly backoffMs: number;
}

export interface GrpcSecretProviderOptions {
  /** `--provider-volume`: searched last. */
  readonly providerVolume: string;
  /** `--additional-provider-volume-paths`: searched first, in order. */
  readonly additionalProviderVolumePaths: readonly string[];
  /** `--max-call-recv-msg-size`: the largest MountResponse accepted, in bytes. */
  readonly maxCallRecvMsgSize: number;
  /**
   * Budget for one `mount`, handshake and retries included, unless the call brings its own (kubelet
   * allows 2 minutes per publish; the rotation loop passes `--rotation-call-timeout`).
   */
  readonly callTimeoutMs?: number;
  readonly retry?: Partial<ProviderRetryOptions>;
  /** Sent as `user-agent` (`secrets-store-csi/<version>` in the driver). */
  readonly userAgent?: string;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRY: ProviderRetryOptions = { attempts: 3, backoffMs: 100 };
export const DEFAULT_USER_AGENT = 'secrets-store-csi';

/**
 * SecretProvider over the provider API: plaintext gRPC on `<dir>/<provider>.sock`. Keeps one client
 * per provider, replaced (and its socket looked up again) when its channel is closed or the provider
 * stops answering, which is how a moved or restarted provider is found;
 * retries UNAVAILABLE a bounded number of times within the call budget. Safe to call concurrently.
 */
export class GrpcSecretProvider implements SecretProvider {
  private readonly connections = new Map<string, ProviderConnection>();
  private readonly socketDirs: readonly string[];
  private readonly callTimeoutMs: number;
  private readonly retry: ProviderRetryOptions;

  constructor(private readonly options: GrpcSecretProviderOptions, private readonly logger: Logger) {
    this.socketDirs = [...options.additionalProviderVolumePaths, options.providerVolume];
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  async mount(providerName: string, request: ProviderMountRequest, options: ProviderCallOptions = {}): Promise<ProviderMountResponse> {
    validateProviderName(providerName);
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const deadline = new Date(Date.now() + timeoutMs);
    const wireRequest = toWireMountRequest(request);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw cancelledCall(providerName);
      // The socket is looked up again only for a new client: a moved or restarted provider fails the call (UNAVAILABLE), which drops it.
      const connection = this.openConnection(providerName) ?? this.connectionFor(providerName, await findProviderSocket(providerName, this.socketDirs));
      try {
        return fromWireMountResponse(await connection.mount(wireRequest, deadline, signal));
      } catch (error) {
        if (signal?.aborted) throw cancelledCall(providerName);
        if (!(error instanceof GrpcCallError)) throw error instanceof DomainError ? error : new DomainError('Internal', 'internal error');
        if (error.code !== GrpcStatus.UNAVAILABLE) throw toProviderFailure(providerName, connection.socketPath, error, timeoutMs);
        // A dead or restarting provider: start over with a fresh channel instead of waiting on the old session's end
        // (the old one serves the calls already on it to their end).
        this.dropConnection(providerName, connection);
        const backoffMs = this.retry.backoffMs * 2 ** (attempt - 1);
        if (attempt >= this.retry.attempts || Date.now() + backoffMs >= deadline.getTime()) {
          throw toProviderFailure(providerName, connection.socketPath, error, timeoutMs);
        }
        this.logger.warn('provider unavailable; retrying', { provider: providerName, socketPath: connection.socketPath, attempt, backoffMs });
        await sleep(backoffMs, undefined, signal ? { signal } : {}).catch(() => undefined);
      }
    }
  }

  /** Closes every client. A later `mount` opens new ones. */
  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private openConnection(providerName: string): ProviderConnection | undefined {
    const existing = this.connections.get(providerName);
    return existing !== undefined && !existing.isClosed() ? existing : undefined;
  }

  private connectionFor(providerName: string, socketPath: string): ProviderConnection {
    const existing = this.connections.get(providerName);
    if (existing && existing.socketPath === socketPath && !existing.isClosed()) return existing;
    existing?.retire();
    const connection = new ProviderConnection(
      { providerName, socketPath, maxCallRecvMsgSize: this.options.maxCallRecvMsgSize, userAgent: this.options.userAgent ?? DEFAULT_USER_AGENT },
      this.logger,
    );
    this.connections.set(providerName, connection);
    return connection;
  }

  private dropConnection(providerName: string, connection: ProviderConnection): void {
    connection.retire();
    if (this.connections.get(providerName) === connection) this.connections.delete(providerName);
  }
}
