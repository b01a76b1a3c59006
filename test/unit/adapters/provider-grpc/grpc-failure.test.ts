import { expect } from 'chai';
import { GrpcCallError, GrpcStatus, MessageTooLargeError } from '../../../../src/adapters/grpc-wire/grpc-status.js';
import { toProviderFailure } from '../../../../src/adapters/provider-grpc/grpc-failure.js';

describe('toProviderFailure', () => {
  it('reports this side\'s refusal of an oversized answer as ProviderMessageTooLarge, with both sizes', () => {
    const failure = toProviderFailure('vault', '/p/vault.sock', new MessageTooLargeError(5000, 4096), 30_000);
    expect([failure.code, failure.message, failure.providerCode]).to.deep.equal([
      'ProviderMessageTooLarge',
      'provider "vault" answered with 5000 bytes, more than --max-call-recv-msg-size (4096)',
      'RESOURCE_EXHAUSTED',
    ]);
  });

  it('reports a provider\'s own RESOURCE_EXHAUSTED as its failure, even in the same words', () => {
    const failure = toProviderFailure('vault', '/p/vault.sock', new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'Received message larger than max (5000 vs 4096)'), 30_000);
    expect([failure.code, failure.message]).to.deep.equal(['ProviderError', 'provider "vault" failed: RESOURCE_EXHAUSTED: Received message larger than max (5000 vs 4096)']);
  });
});
