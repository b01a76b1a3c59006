/** One object held by the fake provider's secret store. */
export interface FakeObjectState {
  readonly contents: Uint8Array;
  readonly version: string;
}

/** What a `seed` attribute may say about an object the store does not know yet. */
export interface FakeObjectSeed {
  readonly contents?: string;
  readonly version?: string;
}

/**
 * The fake provider's external secret store: objects keyed by name, each with contents and a version.
 * An unknown object is created on first read (from its seed, else `<name>-v1` at version `v1`), so a
 * test only has to name objects. Shared across provider restarts when passed to each start.
 */
export class FakeSecretStore {
  private readonly objects = new Map<string, FakeObjectState>();

  /** The current state of `name`, created from `seed` (or the default) when unknown. */
  read(name: string, seed?: FakeObjectSeed): FakeObjectState {
    const existing = this.objects.get(name);
    if (existing) return existing;
    const version = seed?.version ?? 'v1';
    const created = { contents: encode(seed?.contents ?? `${name}-${version}`), version };
    this.objects.set(name, created);
    return created;
  }

  /** Bumps the version of `name` (v1 -> v2) and replaces its contents (default `<name>-<new version>`). */
  rotate(name: string, contents?: string | Uint8Array): FakeObjectState {
    const version = nextVersion(this.read(name).version);
    const rotated = { contents: toBytes(contents ?? `${name}-${version}`), version };
    this.objects.set(name, rotated);
    return rotated;
  }

  /** Names and versions, sorted by name (contents left out: they stand for secrets). */
  versions(): { name: string; version: string }[] {
    return [...this.objects.entries()]
      .map(([name, state]) => ({ name, version: state.version }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** `v1` -> `v2`, `2024.9` -> `2024.10`; a version without a trailing number gets `-2`. */
export function nextVersion(version: string): string {
  const match = /^(.*?)(\d+)$/.exec(version);
  return match ? `${match[1]}${Number(match[2]) + 1}` : `${version}-2`;
}

function toBytes(contents: string | Uint8Array): Uint8Array {
  return typeof contents === 'string' ? encode(contents) : Uint8Array.from(contents);
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
