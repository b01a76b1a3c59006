import type { FakeProviderControls } from '../../adapters/fake-provider/fake-provider-server.js';
import type { Narrator } from './narrator.js';

/**
 * Changes objects in the fake provider's store and keeps the contents of every version it saw, so the
 * files of a check can be verified against the versions the driver reports, even when the store has
 * moved on while the check ran. Every change of the simulation goes through here.
 */
export class StoreChanges {
  private readonly contents = new Map<string, Uint8Array>();

  constructor(
    private readonly provider: Pick<FakeProviderControls, 'store' | 'rotate'>,
    private readonly narrator: Narrator,
  ) {}

  /** Bumps `name` to its next version with new contents, and narrates it. */
  change(name: string): void {
    const before = this.current(name).version;
    const after = this.provider.rotate(name);
    this.contents.set(versionKey(name, after.version), after.contents);
    this.narrator.storeChanged(name, before, after.version);
  }

  /** The store's version of `name` now. */
  versionOf(name: string): string {
    return this.current(name).version;
  }

  /** The contents `name` had at `version`, or undefined for a version the store never held. */
  contentsAt(name: string, version: string): Uint8Array | undefined {
    this.current(name);
    return this.contents.get(versionKey(name, version));
  }

  /** Reads the store's state of `name`, remembering it: the first version is made by the store itself. */
  private current(name: string): { readonly version: string } {
    const state = this.provider.store.read(name);
    this.contents.set(versionKey(name, state.version), state.contents);
    return state;
  }
}

function versionKey(name: string, version: string): string {
  return `${name}@${version}`;
}
