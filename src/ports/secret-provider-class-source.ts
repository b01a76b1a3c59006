import type { SecretProviderClass } from '../domain/secret-provider-class.js';

export interface ClassChange {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Reads SecretProviderClasses and tells when one changes.
 * Contract: `get` resolves undefined for a missing class (never rejects for that); listeners are
 * called after the new state is readable through `get`; `onChange` returns an unsubscribe function.
 */
export interface SecretProviderClassSource {
  get(namespace: string, name: string): Promise<SecretProviderClass | undefined>;
  onChange(listener: (change: ClassChange) => void): () => void;
}
export const SecretProviderClassSource = Symbol.for('SecretProviderClassSource');
