import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { PROVIDER_NAME_PATTERN } from '../../domain/secret-provider-class.js';
import { loadProviderProtos, type ProviderProtos } from '../../gen/load.js';
import type { VersionResponse__Output } from '../../gen/v1alpha1/VersionResponse.js';
import type { ProviderProbe, ProviderVersionAnswer } from '../../ports/provider-probe.js';
import { isServiceError, toProviderFailure } from './grpc-failure.js';
import { PROVIDER_API_VERSION } from './provider-connection.js';
import { findProviderSocket, isSocket } from './socket-discovery.js';

const SOCKET_SUFFIX = '.sock';

/**
 * ProviderProbe over the provider API: lists `<dir>/<provider>.sock` in the discovery directories and
 * calls `Version` on a channel of its own, closed after each call, so a check never shares (or
 * disturbs) the channel mounts use, and sees the socket as a new mount would.
 */
export class GrpcProviderProbe implements ProviderProbe {
  private protos: ProviderProtos | undefined;

  /** `dirs`: the discovery directories in search order (`--additional-provider-volume-paths`, then `--provider-volume`). */
  constructor(private readonly dirs: readonly string[]) {}

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
    this.protos ??= loadProviderProtos();
    const client = new this.protos.v1alpha1.CSIDriverProvider(`unix://${socketPath}`, credentials.createInsecure(), {
      // As for mounts: some providers reject any :authority but "localhost".
      'grpc.default_authority': 'localhost',
    });
    try {
      const answer = await new Promise<VersionResponse__Output>((resolve, reject) => {
        client.version({ version: PROVIDER_API_VERSION }, { deadline: Date.now() + timeoutMs }, (error, response) => (error ? reject(error) : resolve(response!)));
      });
      return { version: answer.version, runtimeName: answer.runtimeName, runtimeVersion: answer.runtimeVersion };
    } catch (error) {
      throw isServiceError(error) ? toProviderFailure(providerName, socketPath, error, timeoutMs) : error;
    } finally {
      client.close();
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
