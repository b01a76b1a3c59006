import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeMountSystem, type MountSystem } from './mount-system.js';

export interface MountCapability {
  readonly canMount: boolean;
  /** Why not (the mount command's message), or what was proven. */
  readonly reason: string;
}

/**
 * Finds out whether this process can mount a tmpfs (root or CAP_SYS_ADMIN, and a mount namespace
 * that allows it) the only reliable way: by mounting a tiny one in a fresh temporary directory and
 * unmounting it again. Never throws; the directory is removed either way.
 */
export async function probeMountCapability(system: MountSystem = nodeMountSystem(), parent = tmpdir()): Promise<MountCapability> {
  let dir: string;
  try {
    dir = await mkdtemp(join(parent, 'csi-mount-probe-'));
  } catch (error) {
    return { canMount: false, reason: `cannot create a probe directory in ${parent}: ${messageOf(error)}` };
  }
  try {
    await system.run('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700,noexec,nosuid,nodev', 'tmpfs', dir]);
  } catch (error) {
    await rmdir(dir).catch(() => undefined);
    return { canMount: false, reason: messageOf(error) };
  }
  try {
    await system.run('umount', [dir]).catch(() => system.run('umount', ['-l', dir]));
    return { canMount: true, reason: 'mounted and unmounted a probe tmpfs' };
  } catch (error) {
    return { canMount: false, reason: `mounted a probe tmpfs but could not unmount it: ${messageOf(error)}` };
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
}

/** True when this process can mount a tmpfs (see probeMountCapability for the reason when not). */
export async function canMount(): Promise<boolean> {
  return (await probeMountCapability()).canMount;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
