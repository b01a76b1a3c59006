import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KNOWN_KINDS, isKnownKind, type KnownKind, type KubeObject } from '../kube-objects/object-shapes.js';
import { isKubeApiError } from './cluster-errors.js';
import type { InMemoryCluster } from './cluster-store.js';
import { createMergePatch, isJsonObject, jsonEqual, type JsonObject } from './json.js';
import { normalizeObject } from './object-validation.js';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Fields the API server owns; a manifest copied from `kubectl get -o yaml` must not set them. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink'];

/** A manifest that cannot be loaded, naming the file and (when it is about one) the document, 1-based. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly document: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${document === undefined ? '' : `, document ${document}`}: ${reason}`);
    this.name = 'ManifestError';
  }
}

export interface ManifestObject {
  readonly file: string;
  readonly document: number;
  readonly key: string;
  readonly object: KubeObject;
}

export interface ApplyResult {
  /** `Kind namespace/name` of each object written. */
  created: string[];
  updated: string[];
  deleted: string[];
  /** A file with an error contributes nothing new and keeps what it applied before. */
  errors: ManifestError[];
}

/** Every manifest file the paths name: files as given, directories' *.yaml, *.yml, *.json sorted by name. */
export async function listManifestFiles(paths: readonly string[]): Promise<{ files: string[]; errors: ManifestError[] }> {
  const files: string[] = [];
  const errors: ManifestError[] = [];
  for (const path of paths) {
    try {
      if (!(await stat(path)).isDirectory()) {
        files.push(path);
        continue;
      }
      const names = (await readdir(path, { withFileTypes: true }))
        .filter((entry) => entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name)))
        .map((entry) => entry.name)
        .sort();
      files.push(...names.map((name) => join(path, name)));
    } catch (error) {
      errors.push(new ManifestError(path, undefined, `cannot read: ${(error as Error).message}`));
    }
  }
  return { files, errors };
}

/** Parses one file into objects; throws a ManifestError for the first unusable document. */
export async function parseManifestFile(file: string): Promise<ManifestObject[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ManifestError(file, undefined, `cannot read: ${(error as Error).message}`);
  }
  const objects: ManifestObject[] = [];
  for (const [index, document] of parseAllDocuments(text).entries()) {
    const fail = (reason: string): never => {
      throw new ManifestError(file, index + 1, reason);
    };
    if (document.errors.length > 0) fail(`invalid YAML: ${document.errors[0]!.message}`);
    const content: unknown = document.toJS();
    if (content === null || content === undefined) continue;
    objects.push({ file, document: index + 1, ...toManifestObject(content, fail) });
  }
  return objects;
}

function toManifestObject(content: unknown, fail: (reason: string) => never): { key: string; object: KubeObject } {
  if (!isJsonObject(content)) return fail('not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)');
  const kind = content['kind'];
  if (!isKnownKind(kind)) return fail(`unknown kind ${JSON.stringify(kind)} (this cluster knows ${KNOWN_KINDS.join(', ')})`);
  const metadata = content['metadata'];
  if (!isJsonObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    return fail(`${kind} has no metadata.name`);
  }
  for (const field of SERVER_FIELDS) if (!(field === 'uid' && kind === 'Pod')) delete metadata[field];
  try {
    const object = normalizeObject(content);
    if (kind === 'Pod' && !object.metadata.uid) object.metadata.uid = stablePodUid(object.metadata.namespace!, object.metadata.name);
    return { key: objectKeyText(kind, object.metadata.namespace!, object.metadata.name), object };
  } catch (error) {
    return fail(isKubeApiError(error) ? error.message : String(error));
  }
}

/**
 * Applies manifest files to an InMemoryCluster with `kubectl apply` semantics: creates new objects,
 * patches changed ones (three-way: the change from the last applied manifest is merged onto the live
 * object, so the uid and fields others wrote survive) and deletes objects that earlier applies created
 * and the manifests no longer contain. The last applied manifests are kept here, not in annotations.
 */
export class ManifestApplier {
  private lastApplied = new Map<string, ManifestObject[]>();
  private signature = '';

  constructor(
    private readonly cluster: InMemoryCluster,
    readonly paths: readonly string[],
  ) {}

  /** The file signature (names, sizes, mtimes) read by the last apply; a watcher compares against it. */
  get appliedSignature(): string {
    return this.signature;
  }

  async apply(): Promise<ApplyResult> {
    const signature = await manifestSignature(this.paths);
    const { files, errors } = await listManifestFiles(this.paths);
    const next = new Map<string, ManifestObject[]>();
    const failedFiles = new Set<string>();
    const claimed = new Map<string, ManifestObject>();
    for (const file of files) {
      try {
        next.set(file, claim(await parseManifestFile(file), claimed));
      } catch (error) {
        errors.push(error as ManifestError);
        failedFiles.add(file);
        next.set(file, this.lastApplied.get(file) ?? []);
      }
    }
    const result: ApplyResult = { created: [], updated: [], deleted: [], errors };
    this.writeAll(next, failedFiles, result);
    this.deleteDropped(next, result);
    this.lastApplied = next;
    this.signature = signature;
    return result;
  }

  private writeAll(next: Map<string, ManifestObject[]>, failedFiles: Set<string>, result: ApplyResult): void {
    const previous = new Map([...this.lastApplied.values()].flat().map((entry) => [entry.key, entry.object]));
    for (const [file, entries] of next) {
      if (failedFiles.has(file)) continue;
      for (const entry of entries) {
        try {
          this.write(entry, previous.get(entry.key), result);
        } catch (error) {
          result.errors.push(new ManifestError(entry.file, entry.document, (error as Error).message));
        }
      }
    }
  }

  private write(entry: ManifestObject, lastApplied: KubeObject | undefined, result: ApplyResult): void {
    const { kind, metadata } = entry.object;
    const live = this.cluster.get(kind as KnownKind, metadata.namespace!, metadata.name);
    if (live === undefined) {
      this.cluster.create(entry.object);
      result.created.push(entry.key);
      return;
    }
    const base = (lastApplied ?? {}) as unknown as JsonObject;
    const patch = createMergePatch(base, entry.object as unknown as JsonObject);
    if (Object.keys(patch).length === 0) return;
    const written = this.cluster.patch(kind as KnownKind, metadata.namespace!, metadata.name, patch);
    if (!jsonEqual(written, live)) result.updated.push(entry.key);
  }

  private deleteDropped(next: Map<string, ManifestObject[]>, result: ApplyResult): void {
    const kept = new Set([...next.values()].flat().map((entry) => entry.key));
    for (const entry of [...this.lastApplied.values()].flat()) {
      if (kept.has(entry.key)) continue;
      const { kind, metadata } = entry.object;
      try {
        this.cluster.delete(kind as KnownKind, metadata.namespace!, metadata.name);
        result.deleted.push(entry.key);
      } catch (error) {
        if (!isKubeApiError(error, 'NotFound')) result.errors.push(new ManifestError(entry.file, entry.document, (error as Error).message));
      }
    }
  }
}

/** Rejects an object a previous file already defines; the whole later file is then refused. */
function claim(objects: ManifestObject[], claimed: Map<string, ManifestObject>): ManifestObject[] {
  const inThisFile = new Map<string, ManifestObject>();
  for (const object of objects) {
    const earlier = claimed.get(object.key) ?? inThisFile.get(object.key);
    inThisFile.set(object.key, object);
    if (earlier !== undefined) {
      throw new ManifestError(object.file, object.document, `${object.key} is already defined in ${earlier.file}, document ${earlier.document}`);
    }
  }
  for (const object of objects) claimed.set(object.key, object);
  return objects;
}

/** Names, sizes and modification times of every manifest file: changes when any input may have changed. */
export async function manifestSignature(paths: readonly string[]): Promise<string> {
  const { files, errors } = await listManifestFiles(paths);
  const parts = await Promise.all(
    files.map(async (file) => {
      try {
        const info = await stat(file);
        return `${file}:${info.size}:${info.mtimeMs}:${info.ino}`;
      } catch {
        return `${file}:missing`;
      }
    }),
  );
  return [...parts, ...errors.map((error) => `${error.file}:missing`)].join('\n');
}

function objectKeyText(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}

/**
 * The uid of a manifest Pod that names none: a UUID (version 5 layout) derived from namespace and name,
 * so the same Pod keeps its uid across edits and restarts, and its target paths and pod status objects
 * with it.
 */
export function stablePodUid(namespace: string, name: string): string {
  const bytes = createHash('sha1').update(`secrets-store-csi/pod/${namespace}/${name}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
