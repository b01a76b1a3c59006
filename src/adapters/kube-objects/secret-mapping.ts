import { readSecretRotationMarker, type SyncedSecret } from '../../domain/restart-on-rotation.js';
import type { CurrentSecret, NewSecret, SecretPatch } from '../../domain/secret-sync-plan.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { KIND_INFO, type OwnerReferenceShape, type SecretResource, type StringRecord } from './object-shapes.js';
import { toOwnerReferences, toOwnerReferenceShape } from './owner-references.js';

/** The JSON merge patch (RFC 7386) body for a SecretPatch. */
export interface SecretMergePatch {
  metadata?: {
    labels?: StringRecord;
    annotations?: StringRecord;
    /** Lists are replaced whole by a merge patch: this is the complete new list. */
    ownerReferences?: OwnerReferenceShape[];
  };
  /** base64 values; `null` removes the key. */
  data?: Record<string, string | null>;
}

/** A new Secret -> the object to create (data base64-encoded). */
export function toSecretResource(secret: NewSecret): SecretResource {
  return {
    apiVersion: KIND_INFO.Secret.apiVersion,
    kind: 'Secret',
    metadata: {
      name: secret.name,
      namespace: secret.namespace,
      labels: { ...secret.labels },
      annotations: { ...secret.annotations },
      ownerReferences: secret.ownerReferences.map(toOwnerReferenceShape),
    },
    type: secret.type,
    data: encodeData(secret.data),
  };
}

/** A Secret object -> the current state the sync plan compares against (data decoded to bytes). */
export function toCurrentSecret(object: SecretResource): CurrentSecret {
  const data: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(object.data ?? {})) data[key] = decodeBase64(value);
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    // The API server defaults an absent type to Opaque.
    type: object.type ?? 'Opaque',
    labels: { ...(object.metadata.labels ?? {}) },
    annotations: { ...(object.metadata.annotations ?? {}) },
    data,
    ownerReferences: toOwnerReferences(object.metadata.ownerReferences),
  };
}

/** A SecretPatch -> merge-patch body touching only the fields present in the patch. */
export function toSecretMergePatch(patch: SecretPatch): SecretMergePatch {
  const body: SecretMergePatch = {};
  const metadata: NonNullable<SecretMergePatch['metadata']> = {};
  if (patch.labels !== undefined) metadata.labels = { ...patch.labels };
  if (patch.annotations !== undefined) metadata.annotations = { ...patch.annotations };
  if (patch.ownerReferences !== undefined) metadata.ownerReferences = patch.ownerReferences.map(toOwnerReferenceShape);
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  if (patch.data !== undefined) {
    const data: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(patch.data)) data[key] = value === null ? null : encodeBase64(value);
    body.data = data;
  }
  return body;
}

function encodeData(data: NewSecret['data']): StringRecord {
  const encoded: StringRecord = {};
  for (const [key, value] of Object.entries(data)) encoded[key] = encodeBase64(value);
  return encoded;
}

/** A synced Secret's metadata as the restarter keeps it (its data is never read). */
export function toSyncedSecret(object: SecretResource): SyncedSecret {
  const rotation = readSecretRotationMarker(object.metadata.annotations ?? {});
  return { namespace: object.metadata.namespace ?? '', name: object.metadata.name, ...(rotation ? { rotation } : {}) };
}

/** The Secret without its data: what a metadata-only cache keeps. */
export function withoutSecretData(object: SecretResource): SecretResource {
  const { data: _dropped, ...metadataOnly } = object;
  return metadataOnly;
}
