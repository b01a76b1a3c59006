import { expect } from 'chai';

/** Rotates an object through a running fake provider's control endpoint; resolves its new version. */
export async function rotateThroughControl(controlUrl: string, name: string): Promise<string> {
  const response = await fetch(`${controlUrl}/rotate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(5_000),
  });
  expect(response.status).to.equal(200);
  return ((await response.json()) as { version: string }).version;
}
