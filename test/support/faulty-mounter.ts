import type { TargetPath } from '../../src/domain/target-path.js';
import type { VolumeSettings } from '../../src/domain/volume-ownership.js';
import type { TargetRemoval, VolumeMounter } from '../../src/ports/volume-mounter.js';

export type MounterOperationName = 'checkTarget' | 'unmount' | 'removeTarget';

/**
 * A VolumeMounter over another (a directory mounter) that tells a mount from its directory as the tmpfs
 * mounter does: once unmounted, a target is no longer mounted although its directory stays until
 * `removeTarget`. `failNext('unmount', 'EBUSY')` makes the next call of that step fail with the errno code.
 */
export class FaultyMounter implements VolumeMounter {
  private readonly unmounted = new Set<string>();
  private readonly faults = new Map<MounterOperationName, string>();

  constructor(private readonly inner: VolumeMounter) {}

  failNext(operation: MounterOperationName, code: string): void {
    this.faults.set(operation, code);
  }

  async checkTarget(target: TargetPath): Promise<void> {
    this.fireFault('checkTarget');
    await this.inner.checkTarget(target);
  }

  async isMounted(target: string): Promise<boolean> {
    return !this.unmounted.has(target) && (await this.inner.isMounted(target));
  }

  async mount(target: string, settings: VolumeSettings): Promise<void> {
    await this.inner.mount(target, settings);
    this.unmounted.delete(target);
  }

  fit(target: string, settings: VolumeSettings): Promise<void> {
    return this.inner.fit(target, settings);
  }

  mountGroup(target: string): Promise<number | undefined> {
    return this.inner.mountGroup(target);
  }

  async unmount(target: string): Promise<void> {
    this.fireFault('unmount');
    await this.inner.unmount(target);
    this.unmounted.add(target);
  }

  async removeTarget(target: string): Promise<TargetRemoval> {
    this.fireFault('removeTarget');
    return this.inner.removeTarget(target);
  }

  private fireFault(operation: MounterOperationName): void {
    const code = this.faults.get(operation);
    if (code === undefined) return;
    this.faults.delete(operation);
    throw Object.assign(new Error(`${code}: injected ${operation} failure`), { code, syscall: operation });
  }
}
