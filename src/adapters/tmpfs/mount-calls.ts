import { constants } from 'node:os';
import { CommandShell } from './command-shell.js';

/**
 * Mounting and unmounting a tmpfs. Failures reject with an Error whose message says what failed and
 * why (the errno name, or the command's output).
 */
export interface MountCalls {
  /** How the calls are made, for the log: `mount(2)` or `mount(8)`. */
  readonly via: 'mount(2)' | 'mount(8)';
  /** A new tmpfs on `target` with `options` (`size=...,mode=...`), nosuid, nodev and noexec. */
  mount(target: string, options: string): Promise<void>;
  /** New options for the tmpfs on `target` (it keeps nosuid, nodev and noexec). */
  remount(target: string, options: string): Promise<void>;
  /** Unmounts the top mount on `target`; `lazy` detaches it even while it is busy. */
  unmount(target: string, lazy: boolean): Promise<void>;
}

// <linux/mount.h>
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_REMOUNT = 0x20;
const MNT_DETACH = 0x2;
const SECURE = MS_NOSUID | MS_NODEV | MS_NOEXEC;

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, number]) => [number, name]));

/**
 * mount(2) and umount2(2) called directly through koffi (a foreign-function interface with prebuilt
 * binaries): no process per call, about 0.1 ms for a mount and an unmount. Loaded on first use only,
 * so profiles that never mount do not carry it. Undefined where koffi or libc cannot be loaded.
 */
export async function loadSystemCalls(): Promise<MountCalls | undefined> {
  let koffi: Awaited<typeof import('koffi')>['default'];
  try {
    koffi = (await import('koffi')).default;
  } catch {
    return undefined;
  }
  let mount: (source: string, target: string, fsType: string | null, flags: number, data: string | null) => number;
  let umount2: (target: string, flags: number) => number;
  try {
    const libc = koffi.load('libc.so.6');
    mount = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
    umount2 = libc.func('int umount2(const char *target, int flags)');
  } catch {
    return undefined;
  }
  const check = (result: number, what: string): void => {
    if (result === 0) return;
    const errno = koffi.errno();
    const name = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
    throw Object.assign(new Error(`${what}: ${name}`), { code: name });
  };
  return {
    via: 'mount(2)',
    mount: async (target, options) => check(mount('tmpfs', target, 'tmpfs', SECURE, options), `mount(2) of a tmpfs on "${target}"`),
    remount: async (target, options) => check(mount('tmpfs', target, null, MS_REMOUNT | SECURE, options), `remount of "${target}"`),
    unmount: async (target, lazy) => check(umount2(target, lazy ? MNT_DETACH : 0), `umount2(2) of "${target}"`),
  };
}

/** mount(8) and umount(8), run from one long-lived shell: where mount(2) cannot be called directly. */
export function commandCalls(shell = new CommandShell()): MountCalls {
  return {
    via: 'mount(8)',
    mount: (target, options) => shell.run('mount', ['-t', 'tmpfs', '-o', `${options},nosuid,nodev,noexec`, 'tmpfs', target]),
    remount: (target, options) => shell.run('mount', ['-o', `remount,${options}`, target]),
    unmount: (target, lazy) => shell.run('umount', lazy ? ['-l', target] : [target]),
  };
}

/** The system calls when they can be loaded, else the commands. */
export async function bestMountCalls(): Promise<MountCalls> {
  return (await loadSystemCalls()) ?? commandCalls();
}
