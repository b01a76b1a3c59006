import { expect } from 'chai';
import type { FakeFailure } from '../../src/adapters/fake-provider/fake-provider-state.js';

/** What `GET /state` of the fake provider's control endpoint tells (never contents). */
export interface FakeProviderSnapshot {
  /** Mount calls the provider answered or failed since it started. */
  readonly mountCount: number;
  readonly versionCount: number;
  /** Mount calls being answered now (held by an injected delay). */
  readonly mountsInFlight: number;
  /** Mount calls the driver cancelled before the answer. */
  readonly cancelledMounts: number;
  readonly failure: FakeFailure | null;
  readonly objects: readonly { readonly name: string; readonly version: string }[];
}

/**
 * Rotates an object through a running fake provider's control endpoint (to `contents` when given,
 * else `<name>-<new version>`); resolves its new version.
 */
export async function rotateThroughControl(controlUrl: string, name: string, contents?: string): Promise<string> {
  const response = await control(controlUrl, 'POST', '/rotate', { name, ...(contents !== undefined ? { contents } : {}) });
  expect(response.status).to.equal(200);
  return ((await response.json()) as { version: string }).version;
}

/** Rotates several objects at once (no Mount answer sees only some of them rotated); resolves their new versions. */
export async function rotateAllThroughControl(controlUrl: string, objects: readonly { name: string; contents: string }[]): Promise<string[]> {
  const response = await control(controlUrl, 'POST', '/rotate', { objects });
  expect(response.status).to.equal(200);
  return ((await response.json()) as { objects: { version: string }[] }).objects.map((object) => object.version);
}

/** Makes every Mount call of the fake provider fail the given way; undefined: answer normally again. */
export async function setFailureThroughControl(controlUrl: string, failure: FakeFailure | undefined): Promise<void> {
  const response = failure ? await control(controlUrl, 'PUT', '/failure', failure) : await control(controlUrl, 'DELETE', '/failure');
  expect(response.status).to.equal(204);
}

/** When the latest Mount calls reached the fake provider (ms since the epoch, oldest first). */
export async function readMountTimesThroughControl(controlUrl: string): Promise<number[]> {
  const response = await control(controlUrl, 'GET', '/mount-times');
  expect(response.status).to.equal(200);
  return ((await response.json()) as { times: number[] }).times;
}

export async function readStateThroughControl(controlUrl: string): Promise<FakeProviderSnapshot> {
  const response = await control(controlUrl, 'GET', '/state');
  expect(response.status).to.equal(200);
  return (await response.json()) as FakeProviderSnapshot;
}

function control(controlUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${controlUrl}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5_000),
  });
}
