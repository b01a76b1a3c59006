import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';

/** What the mounter asks of a stat result. */
export interface PathStats {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  /** The device holding the path: it differs from the parent's on a mount point. */
  readonly dev: number;
}

/**
 * The operating-system calls the tmpfs mounter makes. Commands run without a shell (argument
 * arrays only) and reject with an Error whose message carries the command's stderr.
 */
export interface MountSystem {
  run(command: 'mount' | 'umount', args: readonly string[]): Promise<void>;
  mountInfo(): Promise<string>;
  lstat(path: string): Promise<PathStats>;
  stat(path: string): Promise<PathStats>;
  realpath(path: string): Promise<string>;
  /** mkdir -p with `mode` for each created directory (then chmod of `path`, since mkdir obeys umask). */
  makeDirectories(path: string, mode: number): Promise<void>;
  /** rm -r without following links; a missing path is fine. */
  removeTree(path: string): Promise<void>;
}

const COMMAND_TIMEOUT_MS = 30_000;

/** The real system: mount(8)/umount(8) via execFile, /proc/self/mountinfo, node:fs/promises. */
export function nodeMountSystem(): MountSystem {
  return {
    run: (command, args) => runCommand(command, args),
    mountInfo: () => fs.readFile('/proc/self/mountinfo', 'utf8'),
    lstat: (path) => fs.lstat(path),
    stat: (path) => fs.stat(path),
    realpath: (path) => fs.realpath(path),
    makeDirectories: async (path, mode) => {
      await fs.mkdir(path, { recursive: true, mode });
      await fs.chmod(path, mode);
    },
    removeTree: (path) => fs.rm(path, { recursive: true, force: true }),
  };
}

function runCommand(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: COMMAND_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } }, (error, _stdout, stderr) => {
      if (error === null) {
        resolve();
        return;
      }
      const detail = String(stderr).trim() || error.message;
      reject(Object.assign(new Error(`${command} ${args.join(' ')}: ${detail}`), { cause: error }));
    });
  });
}
