import { compareStrings } from './object-versions.js';
import type { ProviderMountRequest } from './provider-request.js';
import type { SecretProviderClass } from './secret-provider-class.js';
import type { StringMap, VolumeRequest } from './volume-binding.js';
import { VolumeContextKey } from './volume-context.js';

/**
 * Which bindings may share one provider call.
 *
 * - Single-flight (always on): two concurrent fetches whose MountRequests are identical in every
 *   field (attributes incl. tokens, secrets, target path, permission, current versions) to the same
 *   provider are one call.
 * - Sharing (opt-in per class with `secrets-store.csi.k8s.io/fetch-sharing: serviceaccount`): the
 *   bindings of one rotation pass in the same namespace, with the same service account, the same class
 *   (uid and generation), the same parameters (class parameters overlaid by the volume attributes,
 *   without the pod's own name, uid and tokens) and the same nodePublishSecretRef data share one call.
 *
 * A FetchKey compares the full defining material exactly (never a hash, so two keys can never be
 * mistaken for each other), but prints only `id`: a hash of the fields that carry no secret. Secret
 * fields (nodePublishSecretRef data, service-account tokens) sit in a private field that String(),
 * JSON.stringify() and util.inspect() do not show, and they do not influence `id` at all.
 */
export const FETCH_SHARING_ANNOTATION = 'secrets-store.csi.k8s.io/fetch-sharing';

/** The one value of the annotation that turns sharing on. */
export const FETCH_SHARING_BY_SERVICE_ACCOUNT = 'serviceaccount';

export interface FetchSharing {
  readonly enabled: boolean;
  /** Why the annotation was not understood, when it was present but not `serviceaccount`. */
  readonly problem?: string;
}

/** Whether a class opted in to sharing provider calls among bindings of one service account. */
export function fetchSharing(classAnnotations: StringMap): FetchSharing {
  const raw = classAnnotations[FETCH_SHARING_ANNOTATION];
  if (raw === undefined || raw.trim() === '') return { enabled: false };
  if (raw.trim().toLowerCase() === FETCH_SHARING_BY_SERVICE_ACCOUNT) return { enabled: true };
  return { enabled: false, problem: `${FETCH_SHARING_ANNOTATION}: unknown value "${raw}" (expected ${FETCH_SHARING_BY_SERVICE_ACCOUNT}); not sharing` };
}

export type FetchKeyScope = 'single-flight' | 'sharing';

export class FetchKey {
  /** Canonical JSON of every defining field, secrets included: compared, never shown. */
  readonly #material: string;
  /** `<scope>:<16 hex digits>`: FNV-1a 64 of the fields without secrets. Printable; not unique. */
  readonly id: string;

  private constructor(scope: FetchKeyScope, publicFields: readonly unknown[], secretFields: readonly unknown[]) {
    const shown = JSON.stringify(publicFields);
    this.#material = JSON.stringify([scope, shown, secretFields]);
    this.id = `${scope}:${fnv1a64(`${scope}\u0000${shown}`)}`;
  }

  /** Identical MountRequests to the same provider (target path and current versions included). */
  static singleFlight(providerName: string, request: ProviderMountRequest): FetchKey {
    const versions = request.currentObjectVersion.map(({ id, version }) => [id, version]);
    // The attributes may carry service-account tokens and `secrets` is nodePublishSecretRef data.
    return new FetchKey('single-flight', [providerName, request.targetPath, request.permission, versions], [request.attributes, request.secrets]);
  }

  /** The sharing key of a binding of `spc` (whether the class opted in is `fetchSharing`'s business). */
  static sharing(spc: SecretProviderClass, request: VolumeRequest): FetchKey {
    const { namespace, serviceAccountName } = request.pod;
    return new FetchKey(
      'sharing',
      [spc.provider, namespace, serviceAccountName, spc.uid, spc.generation, canonicalMap(sharedAttributes(spc, request))],
      [canonicalMap(request.nodePublishSecrets)],
    );
  }

  equals(other: FetchKey): boolean {
    return this.#material === other.#material;
  }

  toString(): string {
    return this.id;
  }

  toJSON(): string {
    return this.id;
  }
}

/**
 * Bindings that might share a provider call, as far as the rotation loop can tell without reading the
 * class: same provider, namespace, class name and service account. The exact decision is FetchKey.sharing.
 */
export function sharingCandidate(providerName: string, request: VolumeRequest): string {
  return JSON.stringify([providerName, request.pod.namespace, request.className, request.pod.serviceAccountName]);
}

/** Volume-context keys that differ from pod to pod of one service account and do not take part in sharing. */
const POD_OWN_KEYS: ReadonlySet<string> = new Set([VolumeContextKey.podName, VolumeContextKey.podUid, VolumeContextKey.serviceAccountTokens]);

/** The attributes a provider would get, less what is the pod's own (as buildMountRequest overlays them). */
function sharedAttributes(spc: SecretProviderClass, request: VolumeRequest): Record<string, string> {
  const attributes: Record<string, string> = {};
  const overlay = (map: StringMap): void => {
    for (const key of Object.keys(map)) {
      if (!POD_OWN_KEYS.has(key)) Object.defineProperty(attributes, key, { value: map[key], enumerable: true, configurable: true, writable: true });
    }
  };
  overlay(spc.parameters);
  overlay(request.volumeContext);
  return attributes;
}

/** Pairs sorted by key: one text per map whatever the insertion order (and `__proto__` is an ordinary key). */
function canonicalMap(map: StringMap): string {
  return JSON.stringify(
    Object.keys(map)
      .sort(compareStrings)
      .map((key) => [key, map[key]]),
  );
}

const UTF8 = new TextEncoder();

/**
 * FNV-1a 64 over the UTF-8 bytes of `text`, as 16 hex digits. Computed on four 16-bit limbs so it
 * stays in plain number arithmetic (the 64-bit prime is 2^40 + 0x1b3).
 */
export function fnv1a64(text: string): string {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  // One encoder for every key: each rotation check's provider call makes a key.
  const bytes = UTF8.encode(text);
  for (let index = 0; index < bytes.length; index++) {
    h0 ^= bytes[index]!;
    const t0 = h0 * 0x1b3;
    let t1 = h1 * 0x1b3;
    let t2 = h2 * 0x1b3 + (h0 << 8);
    const t3 = h3 * 0x1b3 + (h1 << 8);
    t1 += t0 >>> 16;
    h0 = t0 & 0xffff;
    t2 += t1 >>> 16;
    h1 = t1 & 0xffff;
    h3 = (t3 + (t2 >>> 16)) & 0xffff;
    h2 = t2 & 0xffff;
  }
  return [h3, h2, h1, h0].map((limb) => limb.toString(16).padStart(4, '0')).join('');
}
