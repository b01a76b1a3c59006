import type { SecretObject, SecretProviderClass } from '../../domain/secret-provider-class.js';
import type { SecretObjectShape, SecretProviderClassResource } from './object-shapes.js';

/** A SecretProviderClass object -> the domain class; absent optional fields become empty values. */
export function toSecretProviderClass(object: SecretProviderClassResource): SecretProviderClass {
  const spec = object.spec ?? {};
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    uid: object.metadata.uid ?? '',
    generation: object.metadata.generation ?? 0,
    provider: spec.provider ?? '',
    parameters: { ...(spec.parameters ?? {}) },
    secretObjects: (spec.secretObjects ?? []).map(toSecretObject),
    annotations: { ...(object.metadata.annotations ?? {}) },
  };
}

function toSecretObject(shape: SecretObjectShape): SecretObject {
  return {
    secretName: shape.secretName ?? '',
    type: shape.type ?? '',
    labels: { ...(shape.labels ?? {}) },
    annotations: { ...(shape.annotations ?? {}) },
    data: (shape.data ?? []).map((entry) => ({ objectName: entry.objectName ?? '', key: entry.key ?? '' })),
  };
}
