import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './project-root.js';
import { skipOrFailForMissingPeer, testPeersCacheRoot } from './test-peers.js';

export const HELM_INSTALL_SCRIPT = 'test/control-plane/install-helm.sh';

/** The helm version test/control-plane/install-helm.sh pins (its `HELM_VERSION=vX.Y.Z` line), without the `v`. */
export function pinnedHelmVersion(): string {
  const script = readFileSync(join(projectRoot(import.meta.url), HELM_INSTALL_SCRIPT), 'utf8');
  const match = /^HELM_VERSION=v(\S+)$/m.exec(script);
  if (!match) throw new Error(`${HELM_INSTALL_SCRIPT} does not pin HELM_VERSION=vX.Y.Z`);
  return match[1]!;
}

/**
 * The helm binary: $HELM_BIN when set, else where install-helm.sh caches the pinned version
 * (`${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}/helm-<version>/helm`).
 */
export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env['HELM_BIN']) return env['HELM_BIN'];
  return join(testPeersCacheRoot(env), `helm-${pinnedHelmVersion()}`, 'helm');
}

/**
 * For a suite's `before` hook: the helm binary, or a skip with the reason (locally) or a failure naming the
 * install script (CI=true), so that CI cannot pass by skipping the chart checks.
 */
export function requireHelm(context: Mocha.Context, env: NodeJS.ProcessEnv = process.env): string {
  const helm = helmBinary(env);
  if (existsSync(helm)) return helm;
  return skipOrFailForMissingPeer(context, `helm not found at ${helm}: run ${HELM_INSTALL_SCRIPT} first (it builds helm ${pinnedHelmVersion()} from the Go module proxy)`, env);
}

/** Runs helm; resolves stdout, rejects with helm's stderr. */
export function runHelm(helm: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(helm, args, { cwd: projectRoot(import.meta.url), maxBuffer: 32 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`helm ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}
