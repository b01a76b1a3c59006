import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import type { KnownKind } from '../kube-objects/object-shapes.js';
import type { InMemoryCluster } from './cluster-store.js';

/** What the driver writes: the kinds a state file shows, in the file's order. */
export const STATE_FILE_KINDS: readonly KnownKind[] = ['Event', 'Secret', 'SecretProviderClassPodStatus'];

/**
 * The driver's visible effects as Kubernetes YAML documents, as the API would return them, `---`
 * separated and sorted by kind, namespace and name.
 */
export function renderClusterState(cluster: InMemoryCluster): string {
  const documents = STATE_FILE_KINDS.flatMap((kind) => cluster.list(kind)).map((object) => stringify(object, { lineWidth: 0 }));
  return documents.join('---\n');
}

export interface StateFileOptions {
  /** Changes arriving within this window are written once. */
  readonly debounceMs?: number;
  /** Where a failed background write is reported (flush() rejects instead). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Keeps a file showing the cluster state the driver produced (pod statuses, Secrets, Events), rewritten
 * after every change (debounced) and replaced atomically (temp file + rename), so a reader never
 * sees half a file. `stop()` writes the final state and leaves no timer behind.
 */
export class StateFileWriter {
  private readonly debounceMs: number;
  private unsubscribes: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private tempCounter = 0;

  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly path: string,
    private readonly options: StateFileOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 50;
  }

  /** Starts following the cluster and writes the current state soon. */
  start(): void {
    if (this.unsubscribes.length > 0) return;
    this.unsubscribes = STATE_FILE_KINDS.map((kind) => this.cluster.watch(kind, () => this.scheduleWrite()));
    this.scheduleWrite();
  }

  /** Writes the current state now and resolves when it is on disk. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.cluster.whenIdle();
    this.writing = this.writing.catch(() => undefined).then(() => this.writeNow());
    await this.writing;
  }

  /** Stops following the cluster and writes the final state. */
  async stop(): Promise<void> {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes = [];
    await this.flush();
  }

  private scheduleWrite(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing
        .catch(() => undefined)
        .then(() => this.writeNow())
        .catch((error: unknown) => this.options.onError?.(error));
    }, this.debounceMs);
  }

  private async writeNow(): Promise<void> {
    const text = renderClusterState(this.cluster);
    const temp = `${this.path}.${process.pid}.${this.tempCounter++}.tmp`;
    await mkdir(dirname(this.path), { recursive: true });
    try {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}
