import { expect } from 'chai';

/**
 * Tries to change an object a source handed out. A source that hands out copies lets the change
 * happen (to the copy); one that hands out frozen objects refuses it with a TypeError. Either way the
 * next reader must not see it, which the caller checks.
 */
export function attemptChange(change: () => unknown): void {
  try {
    change();
  } catch (error) {
    expect(error).to.be.instanceOf(TypeError);
  }
}
