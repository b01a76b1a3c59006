import { watch, type FSWatcher } from 'node:fs';
import { manifestSignature, type ApplyResult, type ManifestApplier } from './manifests.js';

export interface ManifestWatchOptions {
  /** Quiet time after the last file event before re-applying (editors write in bursts). */
  readonly debounceMs?: number;
  /** How often file sizes and mtimes are compared, for edits fs.watch does not report. */
  readonly pollIntervalMs?: number;
  /** Set false where fs.watch is unreliable (network or overlay filesystems): polling alone then. */
  readonly fsWatch?: boolean;
  readonly onApplied?: (result: ApplyResult) => void;
  readonly onError?: (error: unknown) => void;
}

/**
 * Re-applies the applier's manifests whenever its files or directories change. Call `apply()` once
 * before watching. Returns a stop function that closes every watcher and timer and waits for a
 * running apply to finish.
 */
export function watchManifests(applier: ManifestApplier, options: ManifestWatchOptions = {}): () => Promise<void> {
  const watcher = new ManifestWatcher(applier, options);
  watcher.start();
  return () => watcher.stop();
}

/** fs.watch for prompt reactions, mtime polling as the safety net, one apply at a time. */
class ManifestWatcher {
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private fsWatchers: FSWatcher[] = [];
  private debounceTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly applier: ManifestApplier,
    private readonly options: ManifestWatchOptions,
  ) {
    this.debounceMs = options.debounceMs ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  start(): void {
    this.rewatch();
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounceTimer);
    clearTimeout(this.pollTimer);
    this.closeWatchers();
    await this.running;
  }

  private scheduleApply(): void {
    if (this.stopped) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      // Applies run one after another, never concurrently.
      this.running = this.running.then(() => this.applyNow());
    }, this.debounceMs);
  }

  private async applyNow(): Promise<void> {
    if (this.stopped) return;
    try {
      const result = await this.applier.apply();
      this.options.onApplied?.(result);
    } catch (error) {
      this.options.onError?.(error);
    }
    // An editor's atomic save replaces the file: watch the new inode.
    if (!this.stopped) this.rewatch();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll();
    }, this.pollIntervalMs);
  }

  private async poll(): Promise<void> {
    try {
      const current = await manifestSignature(this.applier.paths);
      if (current !== this.applier.appliedSignature && this.debounceTimer === undefined) this.scheduleApply();
    } catch (error) {
      this.options.onError?.(error);
    }
    this.schedulePoll();
  }

  private rewatch(): void {
    this.closeWatchers();
    if (this.options.fsWatch === false) return;
    for (const path of this.applier.paths) {
      try {
        const watcher = watch(path, { persistent: false }, () => this.scheduleApply());
        // A watched path that disappears errors out; polling notices the change instead.
        watcher.on('error', () => watcher.close());
        this.fsWatchers.push(watcher);
      } catch {
        // A missing path cannot be watched yet; polling picks it up when it appears.
      }
    }
  }

  private closeWatchers(): void {
    for (const watcher of this.fsWatchers) watcher.close();
    this.fsWatchers = [];
  }
}
