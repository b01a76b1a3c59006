import { DomainError } from './errors.js';
import type { StringMap } from './volume-binding.js';

export interface SecretObjectData {
  /** Relative path of a mounted file. */
  readonly objectName: string;
  /** Key in the Secret's data. */
  readonly key: string;
}

export interface SecretObject {
  readonly secretName: string;
  readonly type: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
  readonly data: readonly SecretObjectData[];
}

/** A SecretProviderClass as the core needs it, whatever stores it. */
export interface SecretProviderClass {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly provider: string;
  readonly parameters: StringMap;
  readonly secretObjects: readonly SecretObject[];
  readonly annotations: StringMap;
}

export const PROVIDER_NAME_PATTERN = /^[a-zA-Z0-9_-]{0,30}$/;

/** A class can be mounted only when it names a valid provider and carries parameters. */
export function assertMountable(spc: SecretProviderClass): void {
  const ref = `SecretProviderClass ${spc.namespace}/${spc.name}`;
  if (!spc.provider) throw new DomainError('InvalidClass', `${ref} has no spec.provider`);
  if (!PROVIDER_NAME_PATTERN.test(spc.provider)) {
    throw new DomainError('InvalidClass', `${ref} has an invalid provider name "${spc.provider}" (must match ${PROVIDER_NAME_PATTERN.source})`);
  }
  if (Object.keys(spc.parameters).length === 0) {
    throw new DomainError('InvalidClass', `${ref} has no spec.parameters`);
  }
}
