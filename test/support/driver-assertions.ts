import { expect } from 'chai';
import { CsiCallError } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { DomainError, type DomainErrorCode } from '../../src/domain/errors.js';
import type { DriverHarness, TestPod } from './driver-harness.js';

/** What `call` rejects with, of class `type`; fails the test when it resolves or rejects with anything else. */
async function failureOf<E extends Error>(call: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await call;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(type);
    return error as E;
  }
  return expect.fail(`expected the call to fail with a ${type.name}`);
}

/** The DomainError a call rejects with. */
export function rejectionOf(call: Promise<unknown>): Promise<DomainError> {
  return failureOf(call, DomainError);
}

/** The failure a CSI call over the socket answers, as kubelet sees it. */
export function csiCallErrorOf(call: Promise<unknown>): Promise<CsiCallError> {
  return failureOf(call, CsiCallError);
}

export async function expectRejection(call: Promise<unknown>, code: DomainErrorCode): Promise<DomainError> {
  const error = await rejectionOf(call);
  expect(error.code, error.message).to.equal(code);
  return error;
}

/**
 * A refused first publish left nothing behind: no target directory (nothing stays mounted), no pod
 * status object, no Secret, no binding, and later rotation passes never ask the provider about it.
 */
export async function expectNothingWritten(harness: DriverHarness, pod: TestPod): Promise<void> {
  expect(harness.exists(pod.target), `target ${pod.target} exists`).to.equal(false);
  expect(harness.cluster.list('SecretProviderClassPodStatus'), 'pod status objects').to.deep.equal([]);
  expect(harness.cluster.list('Secret'), 'Secrets').to.deep.equal([]);
  expect(harness.registry.all(), 'registered bindings').to.deep.equal([]);
  const calls = harness.provider.calls;
  await harness.advance(harness.rotation.intervalMs * 3);
  expect(harness.provider.calls, 'provider calls on later rotation passes').to.equal(calls);
}

/** No log line or event message carries a secret value. */
export function expectNoSecretLeaked(harness: DriverHarness): void {
  expect(harness.leakedSecrets()).to.deep.equal([]);
}
