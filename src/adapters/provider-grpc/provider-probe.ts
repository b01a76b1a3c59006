import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PROVIDER_NAME_PATTERN } from '../../domain/secret-provider-class.js';
import type { ProviderProbe, ProviderVersionAnswer } from '../../ports/provider-probe.js';
import { DEFAULT_USER_AGENT } from './grpc-secret-provider.js';
import { toProviderFailure } from './grpc-failure.js';
import { GrpcCallError } from '../grpc-wire/grpc-status.js';
import { PROVIDER_API_VERSION } from './provider-connection.js';
import { VERSION_METHOD } from './provider-messages.js';
import { findProviderSocket, isSocket } from './socket-discovery.js';
import { UnaryChannel } from './unary-channel.js';

const SOCKET_SUFFIX = '.sock';
/** gRPC's usual receive limit, for a probe not given `--max-call-recv-msg-size`: a VersionResponse is a few short strings. */
const DEFAULT_MAX_VERSION_ANSWER_BYTES = 4 * 1024 * 1024;

export interface ProviderProbeOptions {
  /** As for mounts: `--max-call-recv-msg-size`. */
  readonly maxCallRecvMsgSize?: number;
  readonly userAgent?: string;
}

/**
 * ProviderProbe over the provider API: lists `<dir>/<provider>.sock` in the discovery directories and
 * calls `Version` on a channel of its own, closed after each call, so a check never shares (or
 * disturbs) the channel mounts use, and sees the socket as a new mount would.
 */
export class GrpcProviderProbe implements ProviderProbe {
  /** `dirs`: the discovery directories in search order (`--additional-provider-volume-paths`, then `--provider-volume`). */
  constructor(
    private readonly dirs: readonly string[],
    private readonly options: ProviderProbeOptions = {},
  ) {}

  async discover(): Promise<string[]> {
    const names = new Set<string>();
    for (const dir of this.dirs) {
      for (const entry of await entriesOf(dir)) {
        const name = entry.slice(0, -SOCKET_SUFFIX.length);
        if (!entry.endsWith(SOCKET_SUFFIX) || name === '' || !PROVIDER_NAME_PATTERN.test(name) || names.has(name)) continue;
        if (await isSocket(join(dir, entry))) names.add(name);
      }
    }
    return [...names].sort();
  }

  async version(providerName: string, timeoutMs: number): Promise<ProviderVersionAnswer> {
    const socketPath = await findProviderSocket(providerName, this.dirs);
    const channel = new UnaryChannel({
      socketPath,
      maxReceiveMessageSize: this.options.maxCallRecvMsgSize ?? DEFAULT_MAX_VERSION_ANSWER_BYTES,
      userAgent: this.options.userAgent ?? DEFAULT_USER_AGENT,
    });
    try {
      const answer = await channel.call(VERSION_METHOD, { version: PROVIDER_API_VERSION }, new Date(Date.now() + timeoutMs));
      return { version: answer.version, runtimeName: answer.runtimeName, runtimeVersion: answer.runtimeVersion };
    } catch (error) {
      throw error instanceof GrpcCallError ? toProviderFailure(providerName, socketPath, error, timeoutMs) : error;
    } finally {
      channel.close();
    }
  }
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
