import { DomainError } from './errors.js';
import type { ObjectVersion } from './object-versions.js';
import { sameOwner, type OwnerReference } from './owner-reference.js';
import { secretRotationMarker } from './restart-on-rotation.js';
import { sameBytes, type SecretFile } from './secret-payload.js';
import type { SecretObject, SecretProviderClass } from './secret-provider-class.js';
import { tlsSecretValue } from './tls-secret.js';
import type { StringMap } from './volume-binding.js';

export const MANAGED_LABEL = 'secrets-store.csi.k8s.io/managed';
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** The Secret types upstream accepts in `secretObjects[].type`. */
export const SECRET_TYPES: readonly string[] = [
  'Opaque',
  'kubernetes.io/basic-auth',
  'bootstrap.kubernetes.io/token',
  'kubernetes.io/dockerconfigjson',
  'kubernetes.io/dockercfg',
  'kubernetes.io/ssh-auth',
  'kubernetes.io/service-account-token',
  TLS_SECRET_TYPE,
];

export type SecretData = Readonly<Record<string, Uint8Array>>;

/** A Kubernetes Secret as the driver wants it to be (owners are added when it is applied). */
export interface DesiredSecret {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
  readonly data: SecretData;
}

/** A Secret to create: the desired content plus the objects whose deletion should delete it. */
export interface NewSecret extends DesiredSecret {
  readonly ownerReferences: readonly OwnerReference[];
}

/** A Secret as it exists in the cluster. */
export interface CurrentSecret {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
  readonly data: SecretData;
  readonly ownerReferences: readonly OwnerReference[];
}

/** Only the fields the driver owns; `null` data removes a key the class no longer maps. */
export interface SecretPatch {
  readonly labels?: StringMap;
  readonly annotations?: StringMap;
  readonly data?: Readonly<Record<string, Uint8Array | null>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

export type SecretChange =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'create'; readonly secret: NewSecret }
  | { readonly kind: 'patch'; readonly patch: SecretPatch; readonly dataChanged: boolean };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The Secrets a class asks for, built from the files that are (or are about to be) mounted.
 * Throws before anything is written when a secretObject cannot be satisfied.
 */
export function desiredSecrets(spc: SecretProviderClass, files: readonly SecretFile[]): DesiredSecret[] {
  const byPath = new Map(files.map((file) => [file.path, file.contents]));
  return spc.secretObjects.map((object) => desiredSecret(spc, object, byPath));
}

function desiredSecret(spc: SecretProviderClass, object: SecretObject, files: ReadonlyMap<string, Uint8Array>): DesiredSecret {
  const ref = `secretObjects "${object.secretName}" of SecretProviderClass ${spc.namespace}/${spc.name}`;
  if (!object.secretName || object.secretName.length > 253 || !DNS_SUBDOMAIN.test(object.secretName)) {
    throw new DomainError('InvalidClass', `${ref}: secretName must be a DNS subdomain name`);
  }
  const type = object.type.trim();
  if (!SECRET_TYPES.includes(type)) {
    throw new DomainError('InvalidSecretType', `${ref}: invalid secret type "${object.type}" (expected one of ${SECRET_TYPES.join(', ')})`);
  }
  if (object.data.length === 0) throw new DomainError('InvalidClass', `${ref}: data is empty`);
  const entries: Array<[string, Uint8Array]> = [];
  for (const { objectName, key } of object.data) {
    if (!key) throw new DomainError('InvalidClass', `${ref}: a data entry has an empty key`);
    const contents = files.get(objectName);
    if (contents === undefined) {
      throw new DomainError('SecretObjectFileMissing', `${ref}: file "${objectName}" for key "${key}" is not in the mount`);
    }
    entries.push([key, type === TLS_SECRET_TYPE ? tlsValue(ref, key, contents) : contents]);
  }
  // fromEntries defines own properties: a data key such as `__proto__` stays an ordinary key.
  const data: Record<string, Uint8Array> = Object.fromEntries(entries);
  return {
    namespace: spc.namespace,
    name: object.secretName,
    type,
    labels: { ...object.labels, [MANAGED_LABEL]: 'true' },
    annotations: { ...object.annotations },
    data,
  };
}

/**
 * Desired vs current: nothing, a create, or a patch of only what differs. Never a blind overwrite.
 * `owners` are added to an existing Secret's owners, so it lives as long as any consumer.
 */
export function planSecretChange(
  desired: DesiredSecret,
  owners: readonly OwnerReference[],
  current: CurrentSecret | undefined,
): SecretChange {
  if (current === undefined) return { kind: 'create', secret: { ...desired, ownerReferences: owners } };
  const ref = `Secret ${current.namespace}/${current.name}`;
  if (current.labels[MANAGED_LABEL] !== 'true') {
    throw new DomainError('SecretNotManaged', `${ref} exists and is not managed by the driver (label ${MANAGED_LABEL}="true" missing)`);
  }
  if (current.type !== desired.type) {
    throw new DomainError('InvalidSecretType', `${ref} has type "${current.type}" but the class asks for "${desired.type}"; a Secret's type is immutable, delete it to change the type`);
  }
  const data = dataPatch(desired.data, current.data);
  const labels = mapPatch(desired.labels, current.labels);
  const annotations = mapPatch(desired.annotations, current.annotations);
  const missingOwners = owners.filter((o) => !current.ownerReferences.some((c) => sameOwner(c, o)));
  const patch: { -readonly [K in keyof SecretPatch]: SecretPatch[K] } = {};
  if (data) patch.data = data;
  if (labels) patch.labels = labels;
  if (annotations) patch.annotations = annotations;
  if (missingOwners.length > 0) patch.ownerReferences = [...current.ownerReferences, ...missingOwners];
  if (Object.keys(patch).length === 0) return { kind: 'unchanged' };
  return { kind: 'patch', patch, dataChanged: data !== undefined };
}

/**
 * A patch that changes an existing Secret's data also writes the rotation marker (the digest of the
 * mount's object versions and the time), which the restarter reads; a create or a metadata-only patch
 * does not: pods that start after a Secret was created read its data as it is.
 */
export function withRotationMarker(change: SecretChange, objects: readonly ObjectVersion[], now: number): SecretChange {
  if (change.kind !== 'patch' || !change.dataChanged) return change;
  return { ...change, patch: { ...change.patch, annotations: { ...change.patch.annotations, ...secretRotationMarker(objects, now) } } };
}

function dataPatch(desired: SecretData, current: SecretData): Record<string, Uint8Array | null> | undefined {
  // Own keys only: data keys such as `constructor` or `__proto__` are valid and must not hit Object.prototype.
  const entries: Array<[string, Uint8Array | null]> = [];
  for (const [key, value] of Object.entries(desired)) {
    const existing = Object.hasOwn(current, key) ? current[key] : undefined;
    if (existing === undefined || !sameBytes(existing, value)) entries.push([key, value]);
  }
  for (const key of Object.keys(current)) if (!Object.hasOwn(desired, key)) entries.push([key, null]);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function mapPatch(desired: StringMap, current: StringMap): Record<string, string> | undefined {
  const patch: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired)) if (current[key] !== value) patch[key] = value;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** The tls value with the Secret and class named in the error, so users know which object is wrong. */
function tlsValue(ref: string, key: string, contents: Uint8Array): Uint8Array {
  try {
    return tlsSecretValue(key, contents);
  } catch (error) {
    if (error instanceof DomainError) throw new DomainError(error.code, `${ref}: ${error.message}`);
    throw error;
  }
}
