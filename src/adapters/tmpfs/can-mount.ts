import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bestMountCalls, type MountCalls } from './mount-calls.js';

export interface MountCapability {
  readonly canMount: boolean;
  /** Why not (the system's message), or what was proven and how. */
  readonly reason: string;
}

/**
 * Finds out whether this process can mount a tmpfs (root or CAP_SYS_ADMIN, and a mount namespace
 * that allows it) the only reliable way: by mounting a tiny one in a fresh temporary directory and
 * unmounting it again. Never throws; the directory is removed either way.
 */
export async function probeMountCapability(calls?: MountCalls, parent = tmpdir()): Promise<MountCapability> {
  const system = calls ?? (await bestMountCalls());
  let dir: string;
  try {
    dir = await mkdtemp(join(parent, 'csi-mount-probe-'));
  } catch (error) {
    return { canMount: false, reason: `cannot create a probe directory in ${parent}: ${messageOf(error)}` };
  }
  try {
    await system.mount(dir, 'size=64k,mode=0700');
  } catch (error) {
    await rmdir(dir).catch(() => undefined);
    return { canMount: false, reason: messageOf(error) };
  }
  try {
    await system.unmount(dir, false).catch(() => system.unmount(dir, true));
    return { canMount: true, reason: `mounted and unmounted a probe tmpfs with ${system.via}` };
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
