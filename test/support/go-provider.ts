import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { skipOrFailForMissingPeer, testPeersCacheRoot } from './test-peers.js';
import { UPSTREAM_BUILD_SCRIPT } from './upstream-driver.js';

/** The provider served by grpc-go (test/control-plane/secrets-store-csi-driver/go-provider), as the build script caches it. */
export function goProviderBinary(env: NodeJS.ProcessEnv = process.env): string {
  return join(testPeersCacheRoot(env), 'secrets-store-csi-driver-1.4.8', 'go-provider');
}

/** For a suite's `before` hook: the binary, or a skip (locally) / failure (CI=true) naming the build script. */
export function requireGoProvider(context: Mocha.Context, env: NodeJS.ProcessEnv = process.env): string {
  const binary = goProviderBinary(env);
  if (existsSync(binary)) return binary;
  return skipOrFailForMissingPeer(context, `grpc-go provider missing (${binary}): run ${UPSTREAM_BUILD_SCRIPT} first`, env);
}

/** Starts the grpc-go provider on `socketPath`; its output is dropped. */
export function startGoProvider(binary: string, socketPath: string): ChildProcess {
  return spawn(binary, [socketPath], { stdio: 'ignore' });
}
