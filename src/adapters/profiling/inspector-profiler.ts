import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A CPU profile is already being taken (V8 runs one profiler per session): try again when it is done. */
export class ProfilerBusy extends Error {
  override readonly name = 'ProfilerBusy';
}

/**
 * The Node equivalents of Go's pprof CPU profile and heap profile, taken in this process through the V8
 * inspector protocol (node:inspector): a CPU profile over a given time (`.cpuprofile` JSON, opened by
 * Chrome DevTools and most profilers) and a heap snapshot (`.heapsnapshot` JSON). A heap snapshot holds
 * every live string, mounted secrets included: serve it only where reading it needs the same access as
 * reading the mounts (loopback of the driver's pod).
 */
export class InspectorProfiler {
  private readonly session = new Session();
  private cpuProfiling = false;

  constructor() {
    this.session.connect();
  }

  /** Samples the CPU for `durationMs`, then returns the profile as JSON text; rejects with ProfilerBusy when one is running. */
  async cpuProfile(durationMs: number, signal?: AbortSignal): Promise<string> {
    if (this.cpuProfiling) throw new ProfilerBusy('a CPU profile is already being taken');
    this.cpuProfiling = true;
    try {
      await this.session.post('Profiler.enable');
      await this.session.post('Profiler.start');
      const stop = async (): Promise<unknown> => {
        const { profile } = await this.session.post('Profiler.stop');
        await this.session.post('Profiler.disable');
        return profile;
      };
      try {
        await sleep(durationMs, undefined, signal ? { signal } : {});
      } catch (error) {
        await stop();
        throw error;
      }
      return JSON.stringify(await stop());
    } finally {
      this.cpuProfiling = false;
    }
  }

  /** A snapshot of the whole V8 heap as JSON text (the event loop stands still while it is taken). */
  async heapSnapshot(): Promise<string> {
    const chunks: string[] = [];
    const collect = (message: { params: { chunk: string } }): void => void chunks.push(message.params.chunk);
    this.session.on('HeapProfiler.addHeapSnapshotChunk', collect);
    try {
      await this.session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    } finally {
      this.session.off('HeapProfiler.addHeapSnapshotChunk', collect);
    }
    return chunks.join('');
  }

  close(): void {
    this.session.disconnect();
  }
}
