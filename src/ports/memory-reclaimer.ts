/**
 * Frees memory nobody references any more, now rather than whenever the runtime would: large provider
 * answers are garbage as soon as their files are written, but the runtime may keep their buffers for
 * long. Contract: synchronous, never throws; may do nothing where the runtime offers no way.
 */
export interface MemoryReclaimer {
  reclaim(): void;
}
export const MemoryReclaimer = Symbol.for('MemoryReclaimer');
