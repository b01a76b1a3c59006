export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export function sameOwner(a: OwnerReference, b: OwnerReference): boolean {
  return a.uid === b.uid;
}
