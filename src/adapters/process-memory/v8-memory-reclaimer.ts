import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MemoryReclaimer } from '../../ports/memory-reclaimer.js';

type CollectGarbage = () => void;

/**
 * Reclaims memory with a full V8 garbage collection. Node frees a Buffer's memory only when the
 * garbage collector finds the Buffer unreferenced, and V8 does not count that memory towards its heap
 * limit: a few large answers received and written can otherwise stay resident long after. The collector
 * is reached through `--expose-gc`, set at run time and read from a fresh context (this process's own
 * global is left as it is); where that is not possible, `reclaim` does nothing.
 */
export class V8MemoryReclaimer implements MemoryReclaimer {
  private readonly collect: CollectGarbage | undefined;

  constructor() {
    this.collect = exposedCollector();
  }

  /** False where the runtime offered no collector (then reclaiming is left to V8). */
  get available(): boolean {
    return this.collect !== undefined;
  }

  reclaim(): void {
    try {
      this.collect?.();
    } catch {
      // Never fails a publish or a check: the memory is then freed whenever V8 collects.
    }
  }
}

function exposedCollector(): CollectGarbage | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    return typeof collect === 'function' ? (collect as CollectGarbage) : undefined;
  } catch {
    return undefined;
  }
}
