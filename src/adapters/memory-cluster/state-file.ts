import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { isKnownKind, type KnownKind, type KubeObject } from '../kube-objects/object-shapes.js';
import type { InMemoryCluster } from './cluster-store.js';
import { isJsonObject } from './json.js';

/** The kinds a state file shows, in the file's order: the Pods it was given, and what the driver wrote. */
export const STATE_FILE_KINDS: readonly KnownKind[] = ['Pod', 'SecretProviderClassPodStatus', 'Secret', 'Event'];

/** The kinds a restart takes back from the state file: the driver's own writes (Pods come from the manifests). */
const RESTORED_KINDS: ReadonlySet<KnownKind> = new Set(['SecretProviderClassPodStatus', 'Secret', 'Event']);

const HEADER = '# secrets-store-csi driver --cluster memory: Pods, SecretProviderClassPodStatuses, Secrets and Events, rewritten on every change\n';

/** Fields the API server sets on create; a restored object gets them anew. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'];

/**
 * The Pods and the driver's visible effects as Kubernetes YAML documents, as the API would return them,
 * `---` separated, in STATE_FILE_KINDS order and then by namespace and name, after a comment line (so
 * even a state with no objects is a non-empty file).
 */
export function renderClusterState(cluster: InMemoryCluster): string {
  const documents = STATE_FILE_KINDS.flatMap((kind) => cluster.list(kind)).map((object) => stringify(object, { lineWidth: 0 }));
  return HEADER + documents.join('---\n');
}

/** A state file that cannot be taken back at start: the message names the file and the document (1-based). */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

/**
 * Puts back into `cluster` the pod statuses, Secrets and Events of a state file an earlier run wrote, so
 * that restart recovery finds the mounts; objects already in the cluster (from the manifests) win. A
 * missing file restores nothing. Returns the number of objects restored; throws StateFileError for a
 * file that cannot be read or parsed.
 */
export function restoreClusterState(cluster: InMemoryCluster, path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new StateFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let restored = 0;
  for (const [index, document] of parseAllDocuments(text).entries()) {
    const fail = (reason: string): never => {
      throw new StateFileError(`${path}, document ${index + 1}: ${reason}`);
    };
    if (document.errors.length > 0) fail(`invalid YAML: ${document.errors[0]!.message}`);
    const object: unknown = document.toJS();
    if (object === null || object === undefined) continue;
    if (!isJsonObject(object) || !isKnownKind(object['kind']) || !isJsonObject(object['metadata'])) fail('not an object of a kind the cluster knows');
    const resource = object as unknown as KubeObject;
    if (!RESTORED_KINDS.has(resource.kind as KnownKind)) continue;
    if (cluster.get(resource.kind as KnownKind, resource.metadata.namespace ?? 'default', resource.metadata.name) !== undefined) continue;
    for (const field of SERVER_FIELDS) delete (resource.metadata as unknown as Record<string, unknown>)[field];
    try {
      cluster.create(resource);
    } catch (error) {
      fail((error as Error).message);
    }
    restored++;
  }
  return restored;
}

export interface StateFileOptions {
  /** A write failed (first failure, or a different reason than the last); the file keeps its previous content. */
  readonly onFailure?: (error: Error) => void;
  /** A write succeeded after failures. */
  readonly onRecovered?: () => void;
  /** First retry of a failed write; doubles up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

/**
 * Keeps a file showing the cluster's Pods and what the driver produced (pod statuses, Secrets, Events).
 * Written when started and again after every burst of changes, as soon as the cluster has delivered it
 * and before the code that made the change resumes: a reader that saw a publish answered finds it in the
 * file. Each write goes to a temp file (mode 0600, it holds Secret
 * data) in the same directory, flushed to the disk, renamed over the file, and the rename flushed too, so a
 * reader sees a whole file at any moment, even after a power loss; temp files a crashed run left behind are
 * removed at start. A failed write keeps the last good file, is
 * reported once per reason (`failure` tells the current one) and retried with backoff.
 */
export class StateFileWriter {
  private unsubscribes: (() => void)[] = [];
  private changed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private lastFailure: Error | undefined;
  private stopped = false;

  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly path: string,
    private readonly options: StateFileOptions = {},
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /** The reason the file is out of date (the last write failed), or undefined when it is current. */
  get failure(): string | undefined {
    return this.lastFailure === undefined ? undefined : `writing the state file ${this.path} failed: ${this.lastFailure.message}`;
  }

  /** Removes temp files of earlier runs, writes the current state and follows every later change. */
  start(): void {
    if (this.unsubscribes.length > 0 || this.stopped) return;
    this.removeStaleTempFiles();
    this.unsubscribes = [
      ...STATE_FILE_KINDS.map((kind) => this.cluster.watch(kind, () => (this.changed = true))),
      this.cluster.afterDelivery(() => this.writeIfChanged()),
    ];
    this.write();
  }

  /** Resolves once the changes committed so far are delivered, and so written (or failed). */
  async flush(): Promise<void> {
    await this.cluster.whenIdle();
  }

  /** Stops following the cluster and writes the final state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.flush();
    this.stopped = true;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes = [];
    this.write();
    clearTimeout(this.retryTimer);
  }

  private writeIfChanged(): void {
    if (!this.changed) return;
    this.changed = false;
    this.write();
  }

  private write(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeDurably(temp, renderClusterState(this.cluster));
      renameSync(temp, this.path);
      syncDirectory(dirname(this.path));
    } catch (error) {
      removeQuietly(temp);
      this.failed(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.lastFailure !== undefined) {
      this.lastFailure = undefined;
      this.retryDelayMs = this.options.retryDelayMs ?? 1000;
      this.options.onRecovered?.();
    }
  }

  private failed(error: Error): void {
    if (this.lastFailure?.message !== error.message) this.options.onFailure?.(error);
    this.lastFailure = error;
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => this.write(), this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.options.maxRetryDelayMs ?? 30_000);
  }

  /** `<name>.<pid>.tmp` (and the `<name>.<pid>.<n>.tmp` of earlier versions) beside the file. */
  private removeStaleTempFiles(): void {
    const name = basename(this.path);
    let entries: string[];
    try {
      entries = readdirSync(dirname(this.path));
    } catch {
      return; // no directory yet: nothing left behind
    }
    for (const entry of entries) {
      if (entry.startsWith(`${name}.`) && /^\.\d+(\.\d+)?\.tmp$/.test(entry.slice(name.length))) removeQuietly(join(dirname(this.path), entry));
    }
  }
}

/**
 * Writes `text` to a new file of mode 0600 and flushes it to the disk before returning, so that a rename
 * over the state file never makes it point at data a power loss would lose (an empty file: the next start
 * would refuse it). Whatever was at `path` goes first; the file is created exclusively, so a link put there
 * meanwhile is never followed and a file left there never keeps its mode.
 */
function writeDurably(path: string, text: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Errors of file systems that cannot fsync a directory: the rename is then as durable as they make it. */
const DIRECTORY_SYNC_REFUSALS = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF', 'EPERM', 'EACCES']);

/** Flushes a rename in `directory` to the disk, where the file system allows it. */
function syncDirectory(directory: string): void {
  let fd: number;
  try {
    fd = openSync(directory, 'r');
  } catch (error) {
    if (DIRECTORY_SYNC_REFUSALS.has((error as NodeJS.ErrnoException).code ?? '')) return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!DIRECTORY_SYNC_REFUSALS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    closeSync(fd);
  }
}

/** Removes a file if it can; what stays (not a file, no permission) shows up in the next write's error. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // See above.
  }
}
