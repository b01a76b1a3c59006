import type { OwnerReference } from '../../domain/owner-reference.js';
import type { OwnerReferenceShape } from './object-shapes.js';

export function toOwnerReference(shape: OwnerReferenceShape): OwnerReference {
  return {
    apiVersion: shape.apiVersion,
    kind: shape.kind,
    name: shape.name,
    uid: shape.uid,
    ...(shape.controller !== undefined ? { controller: shape.controller } : {}),
    ...(shape.blockOwnerDeletion !== undefined ? { blockOwnerDeletion: shape.blockOwnerDeletion } : {}),
  };
}

export function toOwnerReferenceShape(owner: OwnerReference): OwnerReferenceShape {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    ...(owner.controller !== undefined ? { controller: owner.controller } : {}),
    ...(owner.blockOwnerDeletion !== undefined ? { blockOwnerDeletion: owner.blockOwnerDeletion } : {}),
  };
}

export function toOwnerReferences(shapes: readonly OwnerReferenceShape[] | undefined): OwnerReference[] {
  return (shapes ?? []).map(toOwnerReference);
}
