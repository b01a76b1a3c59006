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
