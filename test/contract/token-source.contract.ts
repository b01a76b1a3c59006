import { expect } from 'chai';
import { parseServiceAccountTokens, type TokenValidity } from '../../src/domain/service-account-tokens.js';
import { tokensUsable } from '../support/service-account-tokens.js';
import type { PodIdentity } from '../../src/domain/volume-binding.js';
import type { TokenSource } from '../../src/ports/token-source.js';

export interface TokenSourceFixture {
  readonly source: TokenSource;
  /** A pod that exists, with a service account that exists. */
  readonly pod: PodIdentity;
  /** The time the source's expirations are measured against (epoch ms). */
  now(): number;
  close(): Promise<void>;
}

/** Seconds from `nowMs` to each token's expiration, by audience. */
function lifetimesFrom(nowMs: number, json: string | undefined): Record<string, number> {
  const parsed = parseServiceAccountTokens(json ?? '');
  const tokens: readonly TokenValidity[] = parsed.ok ? parsed.tokens : [];
  return Object.fromEntries(tokens.map((token) => [token.audience, (token.expiresAtMs - nowMs) / 1000]));
}

/** The TokenSource port contract: the JSON kubelet would send, for exactly the audiences asked for, with the lifetimes asked for. */
export function tokenSourceContract(makeFixture: () => Promise<TokenSourceFixture>): void {
  describe('TokenSource contract', () => {
    let fixture: TokenSourceFixture;

    beforeEach(async () => {
      fixture = await makeFixture();
    });
    afterEach(() => fixture.close());

    it('resolves undefined when no audience is asked for', async () => {
      expect(await fixture.source.tokensFor(fixture.pod, [])).to.equal(undefined);
    });

    it('resolves one token per distinct audience, usable now, in the JSON kubelet sends', async () => {
      const audiences = ['vault', 'sts.amazonaws.com', 'vault'];
      const json = await fixture.source.tokensFor(fixture.pod, audiences.map((audience) => ({ audience })));
      const parsed = parseServiceAccountTokens(json!);
      expect(parsed.ok && parsed.tokens.map((token) => token.audience).sort()).to.deep.equal(['sts.amazonaws.com', 'vault']);
      expect(tokensUsable(json, audiences, fixture.now())).to.equal(true);
      const texts = Object.values(JSON.parse(json!) as Record<string, { token: string }>).map((entry) => entry.token);
      expect(new Set(texts).size, 'a token per audience').to.equal(2);
    });

    it("asks each token with its request's lifetime, the API server's default hour without one; a repeated audience's first request wins", async () => {
      const requests = [{ audience: 'vault', expirationSeconds: 1200 }, { audience: 'sts.amazonaws.com' }, { audience: 'vault', expirationSeconds: 7200 }];
      const askedAt = fixture.now();

      const lifetimes = lifetimesFrom(askedAt, await fixture.source.tokensFor(fixture.pod, requests));

      expect(Object.keys(lifetimes).sort()).to.deep.equal(['sts.amazonaws.com', 'vault']);
      // Expirations are whole seconds, and a real API server's clock runs on while it answers.
      expect(lifetimes['vault']).to.be.closeTo(1200, 10);
      expect(lifetimes['sts.amazonaws.com']).to.be.closeTo(3600, 10);
    });
  });
}
