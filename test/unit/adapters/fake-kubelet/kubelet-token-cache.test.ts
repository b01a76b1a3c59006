import { expect } from 'chai';
import { KubeletTokenCache } from '../../../../src/adapters/fake-kubelet/kubelet-token-cache.js';
import type { TokenRequest } from '../../../../src/domain/service-account-tokens.js';
import type { PodIdentity } from '../../../../src/domain/volume-binding.js';

const POD: PodIdentity = { namespace: 'ns', name: 'app-0', uid: 'uid-1', serviceAccountName: 'app' };
const T0 = Date.parse('2026-12-01T00:00:00Z');

describe('KubeletTokenCache (kubelet renews a token once 80% of its life is gone)', () => {
  let now: number;
  let minted: number;
  const mint = async (pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string> => {
    minted += 1;
    const entries = requests.map(({ audience, expirationSeconds = 3600 }) => [
      audience,
      { token: `${pod.uid}-${minted}`, expirationTimestamp: new Date(now + expirationSeconds * 1000).toISOString() },
    ]);
    return JSON.stringify(Object.fromEntries(entries));
  };

  beforeEach(() => {
    now = T0;
    minted = 0;
  });

  const cases: { readonly title: string; readonly laterMs: number; readonly requests: readonly TokenRequest[]; readonly renewed: boolean }[] = [
    { title: 'reused at 79% of a 10-minute lifetime', laterMs: 474_000, requests: [{ audience: 'vault', expirationSeconds: 600 }], renewed: false },
    { title: 'renewed at 80% of a 10-minute lifetime', laterMs: 480_000, requests: [{ audience: 'vault', expirationSeconds: 600 }], renewed: true },
    { title: 'renewed at 24 hours, whatever the lifetime', laterMs: 24 * 3600_000, requests: [{ audience: 'vault', expirationSeconds: 7 * 24 * 3600 }], renewed: true },
    { title: 'reused just before 24 hours of a week-long lifetime', laterMs: 24 * 3600_000 - 1, requests: [{ audience: 'vault', expirationSeconds: 7 * 24 * 3600 }], renewed: false },
  ];
  for (const { title, laterMs, requests, renewed } of cases) {
    it(title, async () => {
      const cache = new KubeletTokenCache(mint, () => now);
      const first = await cache.tokensFor(POD, requests);
      now = T0 + laterMs;
      const second = await cache.tokensFor(POD, requests);
      expect(second === first).to.equal(!renewed);
      expect(minted).to.equal(renewed ? 2 : 1);
    });
  }

  it('mints again when the requests change or the pod is forgotten, and passes nothing for no requests', async () => {
    const cache = new KubeletTokenCache(mint, () => now);
    expect(await cache.tokensFor(POD, [])).to.equal(undefined);
    await cache.tokensFor(POD, [{ audience: 'vault' }]);
    await cache.tokensFor(POD, [{ audience: 'vault' }, { audience: 'sts' }]);
    cache.forget(POD.uid);
    await cache.tokensFor(POD, [{ audience: 'vault' }, { audience: 'sts' }]);
    expect(minted).to.equal(3);
  });
});
