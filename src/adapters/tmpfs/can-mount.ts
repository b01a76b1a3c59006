import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandShell } from './command-shell.js';
import { bestMountCalls, commandCalls, type MountCalls } from './mount-calls.js';

export interface MountCapability {
  readonly canMount: boolean;
  /** Why not (the system's message), or what was proven and how. */
  readonly reason: string;
}

/**
 * Finds out whether this process can mount a tmpfs (root or CAP_SYS_ADMIN, and a mount namespace
 * that allows it) the only reliable way: by mounting a tiny one in a fresh temporary directory and
 * unmounting it again. Never throws; the directory is removed either way. Without `calls`, the probe
 * runs mount(8) from a shell that ends with it, so a driver that never mounts a volume never loads the
 * mount(2) binding (about 2 MiB of memory); when that fails (mount(8) missing, say), it probes again with
 * the calls the driver mounts with.
 */
export async function probeMountCapability(calls?: MountCalls, parent = tmpdir()): Promise<MountCapability> {
  if (calls !== undefined) return probeWith(calls, parent);
  const shell = new CommandShell();
  const byCommand = await probeWith(commandCalls(shell), parent).finally(() => shell.close());
  return byCommand.canMount ? byCommand : probeWith(await bestMountCalls(), parent);
}

async function probeWith(system: MountCalls, parent: string): Promise<MountCapability> {
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
