import type { TokenRequest } from '../domain/service-account-tokens.js';

/**
 * The service-account tokens the driver's CSIDriver object asks kubelet for (`spec.tokenRequests`): each
 * audience ('' stands for the API server's own) with the lifetime its tokens are requested with.
 * Contract: resolves one request per audience, in the object's order (should an audience repeat, its
 * first request wins); an empty list when the object is absent or names none. Served from memory after
 * the first read (the object rarely changes), so a caller may ask on every rotation check. Rejects with
 * a DomainError only while no read has succeeded.
 */
export interface TokenAudiences {
  requests(): Promise<readonly TokenRequest[]>;
}
export const TokenAudiences = Symbol.for('TokenAudiences');
