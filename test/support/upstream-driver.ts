import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './project-root.js';
import { skipOrFailForMissingPeer, testPeersCacheRoot } from './test-peers.js';

export const UPSTREAM_BUILD_SCRIPT = 'test/control-plane/build-secrets-store-csi-driver.sh';

/** The upstream version the drop-in promise is checked against. */
export const UPSTREAM_VERSION = '1.6.0';

/**
 * The upstream driver (sigs.k8s.io/secrets-store-csi-driver) as build-secrets-store-csi-driver.sh caches it:
 * the binary, and its module source (chart, CRDs, deploy/ manifests) as the Go module cache holds it.
 */
export interface UpstreamDriverPeer {
  readonly version: string;
  readonly binary: string;
  /** The module's source directory (`source` links to it). */
  readonly source: string;
  /** `charts/secrets-store-csi-driver` of the source. */
  readonly chart: string;
  /** What is not there (empty when the peer is complete). */
  readonly missing: readonly string[];
}

/** The versions the build script knows: one wrapper module per version under test/control-plane/secrets-store-csi-driver/. */
export function upstreamDriverVersions(): string[] {
  const wrappers = join(projectRoot(import.meta.url), 'test/control-plane/secrets-store-csi-driver');
  return readdirSync(wrappers).filter((name) => /^v\d+\.\d+\.\d+$/.test(name)).map((name) => name.slice(1)).sort();
}

export function upstreamDriverPeer(version: string = UPSTREAM_VERSION, env: NodeJS.ProcessEnv = process.env): UpstreamDriverPeer {
  const dir = join(testPeersCacheRoot(env), `secrets-store-csi-driver-${version}`);
  const binary = join(dir, 'secrets-store-csi-driver');
  const source = join(dir, 'source');
  const chart = join(source, 'charts', 'secrets-store-csi-driver');
  return { version, binary, source, chart, missing: [binary, join(chart, 'values.yaml')].filter((path) => !existsSync(path)) };
}

/** For a suite's `before` hook: the peer, or a skip (locally) / failure (CI=true) naming the build script. */
export function requireUpstreamDriver(context: Mocha.Context, version: string = UPSTREAM_VERSION, env: NodeJS.ProcessEnv = process.env): UpstreamDriverPeer {
  const peer = upstreamDriverPeer(version, env);
  if (peer.missing.length === 0) return peer;
  return skipOrFailForMissingPeer(context, `upstream driver v${version} missing (${peer.missing.join(', ')}): run ${UPSTREAM_BUILD_SCRIPT} first`, env);
}
