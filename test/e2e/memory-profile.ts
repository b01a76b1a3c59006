import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { stablePodUid } from '../../src/adapters/memory-cluster/manifests.js';

/** Where a `driver --cluster memory` process of a test keeps its files and sockets. */
export interface MemoryProfilePaths {
  readonly manifests: string;
  readonly stateFile: string;
  readonly kubeletRoot: string;
  /** The directory of provider sockets. */
  readonly providers: string;
  readonly csiSocket: string;
}

/** An object of the state file, as far as the tests read it. */
export interface StateObject {
  kind: string;
  metadata: { name: string };
  reason?: string;
  involvedObject?: { name: string };
  status?: { objects?: { id: string; version: string }[] };
}

/**
 * The driver's command line for the memory profile on `paths`, on node-1, off fixed ports (metrics off,
 * health on any free loopback port), rotation on; `extra` adds or overrides flags (a later flag wins).
 */
export function memoryDriverArgs(paths: MemoryProfilePaths, extra: readonly string[]): string[] {
  return [
    'driver',
    '--cluster=memory',
    `--manifests=${paths.manifests}`,
    `--state-file=${paths.stateFile}`,
    `--endpoint=unix://${paths.csiSocket}`,
    '--nodeid=node-1',
    `--provider-volume=${paths.providers}`,
    '--additional-provider-volume-paths=',
    `--kubelet-root=${paths.kubeletRoot}`,
    '--metrics-addr=0',
    '--health-addr=127.0.0.1:0',
    '--enable-secret-rotation',
    ...extra,
  ];
}

/** Every object of the state file, in its order. */
export async function readStateObjects(stateFile: string): Promise<StateObject[]> {
  return parseAllDocuments(await readFile(stateFile, 'utf8'))
    .map((document) => document.toJS() as StateObject)
    .filter((object) => object !== null);
}

/** The target of a manifest Pod's volume (its uid derived from namespace and name). */
export function manifestPodTarget(kubeletRoot: string, pod: string, volume: string): string {
  return join(kubeletRoot, 'pods', stablePodUid('default', pod), 'volumes', 'kubernetes.io~csi', volume, 'mount');
}
