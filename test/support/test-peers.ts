import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the scripts of test/control-plane/ cache the test peers they build (control plane, helm, the upstream
 * driver): `${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}`.
 */
export function testPeersCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['SECRETS_STORE_CSI_TEST_PEERS'] || join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'secrets-store-csi-test-peers');
}

/**
 * For a suite's `before` hook, when a peer is missing: skips with the reason locally, fails with it when
 * CI=true, so that a CI run can never pass by skipping. The reason names the script that builds the peer.
 */
export function skipOrFailForMissingPeer(context: Mocha.Context, reason: string, env: NodeJS.ProcessEnv = process.env): never {
  if (env['CI'] === 'true') throw new Error(reason);
  process.stderr.write(`skipping: ${reason}\n`);
  context.skip();
}
