import { DomainError } from './errors.js';

export interface TargetPath {
  readonly path: string;
  readonly podUid: string;
  readonly volumeName: string;
}

const CSI_PLUGIN_DIR = 'kubernetes.io~csi';
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses a kubelet target path `<root>/pods/<uid>/volumes/kubernetes.io~csi/<volume>/mount` and
 * refuses any other shape, so the driver never mounts or writes outside kubelet's pod volumes.
 */
export function parseTargetPath(path: string, kubeletRoot: string): TargetPath {
  const root = stripTrailingSlashes(kubeletRoot);
  if (!path) throw invalid(path, 'target path is empty');
  if (!path.startsWith('/')) throw invalid(path, 'target path must be absolute');
  const prefix = root.endsWith('/') ? root : `${root}/`;
  if (!path.startsWith(prefix)) {
    throw invalid(path, `target path is not under the kubelet root ${root}`);
  }
  const rest = path.slice(prefix.length).split('/');
  const [pods, podUid, volumes, plugin, volumeName, mount, ...extra] = rest;
  const shaped =
    pods === 'pods' &&
    volumes === 'volumes' &&
    plugin === CSI_PLUGIN_DIR &&
    mount === 'mount' &&
    extra.length === 0 &&
    isSegment(podUid) &&
    isSegment(volumeName);
  if (!shaped) {
    throw invalid(path, `target path must look like ${root}/pods/<pod-uid>/volumes/${CSI_PLUGIN_DIR}/<volume>/mount`);
  }
  return { path, podUid: podUid!, volumeName: volumeName! };
}

function isSegment(value: string | undefined): boolean {
  return value !== undefined && value !== '.' && value !== '..' && SEGMENT.test(value);
}

function stripTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

function invalid(path: string, reason: string): DomainError {
  return new DomainError('InvalidTargetPath', `${reason}: "${path}"`);
}

/** What a directory of the target path turned out to be on disk (lstat, links not followed). */
export type TargetComponentKind = 'directory' | 'symbolic link' | 'not a directory' | 'missing';

/**
 * The directories kubelet makes below its root for a target, root-most first:
 * `pods`, `<uid>`, `volumes`, `kubernetes.io~csi`, `<volume>` and the target `mount` itself.
 */
export function targetDirectories(target: TargetPath): string[] {
  const directories = [target.path];
  for (let level = 1; level < TARGET_DEPTH; level++) directories.unshift(parentOf(directories[0]!));
  return directories;
}

/**
 * Refuses a target one of whose directories below the kubelet root is a symbolic link or not a
 * directory: kubelet makes real directories there, so a link can only send one pod's volume into
 * another's (or anywhere else). `kindOf` tells what a path is without following links; the
 * directories are probed root-most first, and a missing one ends the check (the mounter creates the
 * rest). The kubelet root itself may be a link: that is the node's own configuration.
 */
export async function checkTargetDirectories(target: TargetPath, kindOf: (path: string) => Promise<TargetComponentKind>): Promise<void> {
  for (const directory of targetDirectories(target)) {
    const kind = await kindOf(directory);
    if (kind === 'missing') return;
    if (kind === 'directory') continue;
    if (kind === 'symbolic link') {
      throw new DomainError('InvalidTargetPath', `refusing target path "${target.path}": "${directory}" is a symbolic link, which kubelet never makes below its root`);
    }
    throw new DomainError('InvalidTargetPath', `refusing target path "${target.path}": "${directory}" is not a directory`);
  }
}

/** pods/<uid>/volumes/kubernetes.io~csi/<volume>/mount: six directories below the kubelet root. */
const TARGET_DEPTH = 6;

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}
