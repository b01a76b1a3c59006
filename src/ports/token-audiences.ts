/**
 * The audiences the driver's CSIDriver object asks service-account tokens for
 * (`spec.tokenRequests[].audience`; the empty string stands for the API server's own audience).
 * Contract: resolves them without duplicates, in the object's order; an empty list when the object is
 * absent or names none. Served from memory after the first read (the object rarely changes), so a
 * caller may ask on every rotation check. Rejects with a DomainError only while no read has succeeded.
 */
export interface TokenAudiences {
  audiences(): Promise<readonly string[]>;
}
export const TokenAudiences = Symbol.for('TokenAudiences');
