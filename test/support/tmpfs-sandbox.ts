import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseMountInfo } from './mount-table.js';
import { TmpfsVolumeMounter, type TmpfsVolumeMounterOptions } from '../../src/adapters/tmpfs/tmpfs-volume-mounter.js';
import { targetPathFor } from './builders.js';

const run = promisify(execFile);

/**
 * A temporary kubelet root for tests that mount real tmpfs file systems. `dispose` unmounts every
 * mount under the root (deepest first, lazily if busy) before removing it, so a failing test
 * leaves no mount behind.
 */
export class TmpfsSandbox {
  private constructor(
    /** The temporary directory, canonical (as /proc/self/mountinfo spells it). */
    readonly root: string,
  ) {}

  static async create(prefix = 'tmpfs-sandbox-'): Promise<TmpfsSandbox> {
    const root = await realpath(await mkdtemp(join(tmpdir(), prefix)));
    await mkdir(join(root, 'kubelet', 'pods'), { recursive: true });
    return new TmpfsSandbox(root);
  }

  /** The sandbox of an existing canonical directory someone else made (disposing it unmounts and removes it). */
  static at(root: string): TmpfsSandbox {
    return new TmpfsSandbox(root);
  }

  get kubeletRoot(): string {
    return join(this.root, 'kubelet');
  }

  /** A kubelet-shaped target path inside the sandbox (not created). */
  targetPath(podUid = 'pod-uid-1', volumeName = 'secrets'): string {
    return targetPathFor(podUid, volumeName, this.kubeletRoot);
  }

  mounter(options: Omit<TmpfsVolumeMounterOptions, 'kubeletRoot'> = {}): TmpfsVolumeMounter {
    return new TmpfsVolumeMounter({ ...options, kubeletRoot: this.kubeletRoot });
  }

  /** Mount points under the sandbox root, deepest first. */
  async mountPoints(): Promise<string[]> {
    const entries = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
    return entries
      .map((entry) => entry.mountPoint)
      .filter((point) => point.startsWith(`${this.root}/`))
      .sort((a, b) => b.length - a.length);
  }

  async dispose(): Promise<void> {
    for (let round = 0; round < 4; round++) {
      const points = await this.mountPoints();
      if (points.length === 0) break;
      for (const point of points) await run('umount', [point]).catch(() => run('umount', ['-l', point]).catch(() => undefined));
    }
    await rm(this.root, { recursive: true, force: true });
  }
}
