export interface ObjectVersion {
  readonly id: string;
  readonly version: string;
}

export interface VersionChange {
  readonly id: string;
  readonly from: string;
  readonly to: string;
}

export interface ObjectVersionsDiff {
  readonly added: readonly ObjectVersion[];
  readonly removed: readonly ObjectVersion[];
  readonly changed: readonly VersionChange[];
}

/** Versions sorted by id, the order the pod status object stores them in. A repeated id keeps its last version. */
export function sortObjectVersions(versions: readonly ObjectVersion[]): ObjectVersion[] {
  // A provider's answer usually comes sorted already (and a mounted list always is): a copy will do.
  if (strictlySortedById(versions)) return versions.map(({ id, version }) => ({ id, version }));
  const byId = new Map<string, string>();
  for (const { id, version } of versions) byId.set(id, version);
  return [...byId.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([id, version]) => ({ id, version }));
}

function strictlySortedById(versions: readonly ObjectVersion[]): boolean {
  for (let index = 1; index < versions.length; index++) {
    if (!(versions[index - 1]!.id < versions[index]!.id)) return false;
  }
  return true;
}

const NO_CHANGE: ObjectVersionsDiff = Object.freeze({ added: Object.freeze([]), removed: Object.freeze([]), changed: Object.freeze([]) });

export function diffObjectVersions(
  before: readonly ObjectVersion[],
  after: readonly ObjectVersion[],
): ObjectVersionsDiff {
  // Every check of an unchanged mount: the same list, entry by entry, has nothing to report.
  if (sameObjectVersions(before, after)) return NO_CHANGE;
  const old = new Map(sortObjectVersions(before).map((v) => [v.id, v.version]));
  const next = sortObjectVersions(after);
  const nextIds = new Set(next.map((v) => v.id));
  const added: ObjectVersion[] = [];
  const changed: VersionChange[] = [];
  for (const { id, version } of next) {
    const previous = old.get(id);
    if (previous === undefined) added.push({ id, version });
    else if (previous !== version) changed.push({ id, from: previous, to: version });
  }
  const removed = sortObjectVersions(before).filter((v) => !nextIds.has(v.id));
  return { added, removed, changed };
}

/** The same versions in the same order, entry by entry (a cheaper question than a diff, and a stricter one). */
export function sameObjectVersions(a: readonly ObjectVersion[], b: readonly ObjectVersion[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (a[index]!.id !== b[index]!.id || a[index]!.version !== b[index]!.version) return false;
  }
  return true;
}

export function isEmptyDiff(diff: ObjectVersionsDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** One line naming each change, e.g. `secret/a v1 -> v2, +key/b v1, -cert/c`. */
export function describeDiff(diff: ObjectVersionsDiff): string {
  return [
    ...diff.changed.map((c) => `${c.id} ${c.from} -> ${c.to}`),
    ...diff.added.map((a) => `+${a.id} ${a.version}`),
    ...diff.removed.map((r) => `-${r.id}`),
  ].join(', ');
}

/** Code-unit order, the same on every runtime (unlike localeCompare). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
