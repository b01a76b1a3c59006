import { expect } from 'chai';
import fc from 'fast-check';
import {
  earliestExpiry,
  onePerAudience,
  parseServiceAccountTokens,
  TOKEN_REFRESH_MARGIN_MS,
  type TokenRequest,
  unusableTokensReason,
} from '../../../src/domain/service-account-tokens.js';
import { tokensUsable } from '../../support/service-account-tokens.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

/** Kubelet's JSON for audience -> expiration (epoch ms), with recognisable token texts. */
function tokensJson(expirations: Readonly<Record<string, number>>): string {
  const tokens = Object.entries(expirations).map(([audience, expiresAt]) => [
    audience,
    { token: `token-for-${audience}`, expirationTimestamp: new Date(expiresAt).toISOString() },
  ]);
  return JSON.stringify(Object.fromEntries(tokens));
}

/** RFC 3339 text for an instant, written in another zone offset and with a chosen number of fraction digits. */
function rfc3339(epochMs: number, offsetMinutes: number, fractionDigits: number): string {
  const local = new Date(epochMs + offsetMinutes * MINUTE).toISOString(); // yyyy-mm-ddThh:mm:ss.sssZ
  const fraction = fractionDigits === 0 ? '' : `.${local.slice(20, 23).padEnd(fractionDigits, '0')}`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = offsetMinutes === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local.slice(0, 19)}${fraction}${zone}`;
}

/** Token texts that cannot occur by chance in a problem message. */
const tokenText = fc.stringMatching(/^[A-Za-z0-9_-]{12,40}$/).map((text) => `tok.${text}`);
const audience = fc.oneof(fc.constantFrom('', 'vault', 'api://AzureADTokenExchange', 'sts.amazonaws.com', '__proto__', 'a"b'), fc.string({ maxLength: 10 }));
const instant = fc.integer({ min: Date.parse('1971-01-01T00:00:00Z'), max: Date.parse('9998-12-31T00:00:00Z') });
interface WellFormedEntry {
  readonly token: string;
  readonly expiresAtMs: number;
  readonly offsetMinutes: number;
  readonly fractionDigits: number;
}
const wellFormedEntry: fc.Arbitrary<WellFormedEntry> = fc.record({
  token: tokenText,
  expiresAtMs: instant,
  offsetMinutes: fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
  fractionDigits: fc.constantFrom(0, 3, 6, 9),
});
const wellFormedTokens = fc.dictionary(audience, wellFormedEntry, { maxKeys: 5, noNullPrototype: true });

/** Object.fromEntries keeps an audience called "__proto__" as a key, where assignment would not. */
function asJson(entries: Readonly<Record<string, WellFormedEntry>>): string {
  const body = Object.entries(entries).map(([key, entry]) => [
    key,
    { token: entry.token, expirationTimestamp: rfc3339(entry.expiresAtMs, entry.offsetMinutes, entry.fractionDigits) },
  ]);
  return JSON.stringify(Object.fromEntries(body));
}

describe('domain/service-account-tokens', () => {
  describe('parseServiceAccountTokens', () => {
    it('reads the audiences and expirations of kubelet\'s JSON and keeps no token text', () => {
      const parsed = parseServiceAccountTokens(tokensJson({ vault: NOW + MINUTE, '': NOW + 2 * MINUTE }));
      expect(parsed).to.deep.equal({
        ok: true,
        tokens: [
          { audience: 'vault', expiresAtMs: NOW + MINUTE },
          { audience: '', expiresAtMs: NOW + 2 * MINUTE },
        ],
      });
      expect(JSON.stringify(parsed)).not.to.include('token-for');
    });

    const timestamps: Array<[string, number | undefined]> = [
      ['2026-03-01T12:00:00Z', NOW],
      ['2026-03-01T12:00:00.5Z', NOW + 500],
      ['2026-03-01T12:00:00.123456789Z', NOW + 123],
      ['2026-03-01t12:00:00z', NOW],
      ['2026-03-01T13:30:00+01:30', NOW],
      ['2026-03-01T06:00:00-06:00', NOW],
      ['2024-02-29T00:00:00Z', Date.parse('2024-02-29T00:00:00Z')],
      ['2016-12-31T23:59:60Z', Date.parse('2017-01-01T00:00:00Z')],
      ['2025-02-29T00:00:00Z', undefined],
      ['2026-13-01T00:00:00Z', undefined],
      ['2026-00-10T00:00:00Z', undefined],
      ['2026-04-31T00:00:00Z', undefined],
      ['2026-03-01T24:00:00Z', undefined],
      ['2026-03-01T12:60:00Z', undefined],
      ['2026-03-01T12:00:00+24:00', undefined],
      ['2026-03-01T12:00:00', undefined],
      ['2026-03-01T12:00Z', undefined],
      ['2026-03-01 12:00:00Z', undefined],
      ['2026-03-01', undefined],
      ['1772366400', undefined],
      ['', undefined],
    ];
    for (const [timestamp, expected] of timestamps) {
      it(`${expected === undefined ? 'refuses' : 'reads'} expirationTimestamp "${timestamp}"`, () => {
        const parsed = parseServiceAccountTokens(JSON.stringify({ vault: { token: 't', expirationTimestamp: timestamp } }));
        if (expected === undefined) {
          expect(parsed).to.deep.equal({ ok: false, problem: 'the service-account token for audience "vault" has no RFC 3339 expirationTimestamp' });
        } else {
          expect(parsed).to.deep.equal({ ok: true, tokens: [{ audience: 'vault', expiresAtMs: expected }] });
        }
      });
    }

    const malformed: Array<[string, string, string]> = [
      ['text that is not JSON', '{"vault": {"token": "secret-token-text"', 'the service-account tokens are not JSON'],
      ['a JSON array', '[{"token":"secret-token-text"}]', 'the service-account tokens are not a JSON object'],
      ['JSON null', 'null', 'the service-account tokens are not a JSON object'],
      ['an entry that is a string', '{"vault":"secret-token-text"}', 'the service-account token for audience "vault" is not a JSON object'],
      ['an entry without a token', '{"vault":{"expirationTimestamp":"2026-03-01T12:00:00Z"}}', 'the service-account token for audience "vault" has no token'],
      ['an empty token', '{"vault":{"token":"","expirationTimestamp":"2026-03-01T12:00:00Z"}}', 'the service-account token for audience "vault" has no token'],
      ['a numeric expiration', '{"vault":{"token":"secret-token-text","expirationTimestamp":1772366400}}', 'the service-account token for audience "vault" has no RFC 3339 expirationTimestamp'],
    ];
    for (const [name, json, problem] of malformed) {
      it(`names the problem of ${name} without quoting a value`, () => {
        expect(parseServiceAccountTokens(json)).to.deep.equal({ ok: false, problem });
      });
    }

    it('reads every well-formed token map back, whatever the zone offset and fraction digits (property)', () => {
      fc.assert(
        fc.property(wellFormedTokens, (entries) => {
          const parsed = parseServiceAccountTokens(asJson(entries));
          expect(parsed.ok).to.equal(true);
          const read = parsed.ok ? Object.fromEntries(parsed.tokens.map((token) => [token.audience, token.expiresAtMs])) : {};
          const expected = Object.fromEntries(Object.entries(entries).map(([key, entry]) => [key, entry.fractionDigits === 0 ? entry.expiresAtMs - (entry.expiresAtMs % 1000) : entry.expiresAtMs]));
          expect(read).to.deep.equal(expected);
        }),
      );
    });

    it('never throws on arbitrary text: it answers tokens or a problem (property)', () => {
      const text = fc.oneof(fc.string(), fc.json(), wellFormedTokens.map(asJson));
      fc.assert(
        fc.property(text, (json) => {
          const parsed = parseServiceAccountTokens(json);
          expect(parsed.ok ? Array.isArray(parsed.tokens) : typeof parsed.problem === 'string').to.equal(true);
        }),
      );
    });

    it('never puts token text in a problem, however the JSON is broken (property)', () => {
      const breakage = fc.oneof(
        fc.nat().map((cut) => (json: string) => json.slice(0, cut % (json.length + 1))),
        fc.constant((json: string) => json.replace(/"expirationTimestamp":"[^"]*"/, '"expirationTimestamp":"soon"')),
        fc.constant((json: string) => json.replace(/\{"token":("[^"]*")[^}]*\}/, '$1')),
        fc.constant((json: string) => json.replace(/"token":"[^"]*",?/, '')),
      );
      fc.assert(
        fc.property(wellFormedTokens, breakage, (entries, breakJson) => {
          const parsed = parseServiceAccountTokens(breakJson(asJson(entries)));
          if (parsed.ok) return;
          for (const entry of Object.values(entries)) expect(parsed.problem).not.to.include(entry.token);
        }),
      );
    });
  });

  describe('earliestExpiry', () => {
    it('is the first expiration of the tokens, and undefined for none', () => {
      expect(earliestExpiry([])).to.equal(undefined);
      expect(
        earliestExpiry([
          { audience: 'a', expiresAtMs: NOW + 2 * MINUTE },
          { audience: 'b', expiresAtMs: NOW + MINUTE },
          { audience: 'c', expiresAtMs: NOW + 3 * MINUTE },
        ]),
      ).to.equal(NOW + MINUTE);
    });
  });

  describe('tokensUsable / unusableTokensReason', () => {
    const cases: Array<[string, string | undefined, string[], string | undefined]> = [
      ['no tokens and no audience wanted', undefined, [], undefined],
      ['tokens no audience wants', tokensJson({ other: NOW - MINUTE }), [], undefined],
      ['a fresh token for each wanted audience', tokensJson({ vault: NOW + 10 * MINUTE, aws: NOW + 5 * MINUTE }), ['vault', 'aws'], undefined],
      ['an expired token of an audience no longer wanted', tokensJson({ vault: NOW + 10 * MINUTE, old: NOW - MINUTE }), ['vault'], undefined],
      ['the API server audience (empty string)', tokensJson({ '': NOW + 10 * MINUTE }), [''], undefined],
      ['no tokens after a restart', undefined, ['vault'], 'no service-account token for audience "vault"'],
      ['a token missing for a wanted audience', tokensJson({ vault: NOW + 10 * MINUTE }), ['vault', 'aws', ''], 'no service-account token for audience "aws", ""'],
      ['an expired token', tokensJson({ vault: NOW - 1000 }), ['vault'], 'a service-account token expired at 2026-03-01T11:59:59.000Z'],
      ['a token expiring exactly now', tokensJson({ vault: NOW }), ['vault'], 'a service-account token expired at 2026-03-01T12:00:00.000Z'],
      [
        'a token expiring within the margin',
        tokensJson({ vault: NOW + 30_000, aws: NOW + 10 * MINUTE }),
        ['vault', 'aws'],
        'a service-account token expires at 2026-03-01T12:00:30.000Z, within the 60s refresh margin',
      ],
      [
        'a token expiring exactly at the margin',
        tokensJson({ vault: NOW + TOKEN_REFRESH_MARGIN_MS }),
        ['vault'],
        'a service-account token expires at 2026-03-01T12:01:00.000Z, within the 60s refresh margin',
      ],
      ['unreadable tokens, even with no audience wanted', 'not json', [], 'the service-account tokens are not JSON'],
    ];
    for (const [name, json, audiences, reason] of cases) {
      it(`${reason === undefined ? 'keeps' : 'refreshes'} ${name}`, () => {
        expect(unusableTokensReason(json, audiences, NOW)).to.equal(reason);
        expect(tokensUsable(json, audiences, NOW)).to.equal(reason === undefined);
      });
    }

    it('counts a token usable one millisecond past the margin', () => {
      expect(tokensUsable(tokensJson({ vault: NOW + TOKEN_REFRESH_MARGIN_MS + 1 }), ['vault'], NOW)).to.equal(true);
      expect(tokensUsable(tokensJson({ vault: NOW + 1001 }), ['vault'], NOW, 1000)).to.equal(true);
    });

    const expirations = fc.dictionary(fc.constantFrom('a', 'b', 'c', ''), fc.integer({ min: NOW - 10 * MINUTE, max: NOW + 10 * MINUTE }), { noNullPrototype: true });
    const wanted = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', ''), { maxLength: 4 });
    const margin = fc.integer({ min: 0, max: 5 * MINUTE });

    it('is usable exactly when each wanted audience has a token expiring after now + margin (property)', () => {
      fc.assert(
        fc.property(expirations, wanted, margin, (byAudience, audiences, marginMs) => {
          // Whole milliseconds survive the JSON round trip through toISOString.
          const model = audiences.every((name) => name in byAudience && byAudience[name]! > NOW + marginMs);
          expect(tokensUsable(tokensJson(byAudience), audiences, NOW, marginMs)).to.equal(model);
        }),
      );
    });

    it('stays usable at any earlier time and with a smaller margin (property)', () => {
      fc.assert(
        fc.property(expirations, wanted, margin, fc.nat(10 * MINUTE), fc.nat(5 * MINUTE), (byAudience, audiences, marginMs, earlier, less) => {
          const json = tokensJson(byAudience);
          if (!tokensUsable(json, audiences, NOW, marginMs)) return;
          expect(tokensUsable(json, audiences, NOW - earlier, Math.max(0, marginMs - less))).to.equal(true);
        }),
      );
    });
  });

  describe('onePerAudience', () => {
    it("keeps the requests' order and, for a repeated audience, its first request", () => {
      const requests: TokenRequest[] = [{ audience: 'vault', expirationSeconds: 1200 }, { audience: '' }, { audience: 'vault' }, { audience: '', expirationSeconds: 600 }];
      expect(onePerAudience(requests)).to.deep.equal([{ audience: 'vault', expirationSeconds: 1200 }, { audience: '' }]);
    });

    it('gives each audience of the requests once, as its first request (property)', () => {
      const request = fc.record({ audience, expirationSeconds: fc.option(fc.integer({ min: 600, max: 86_400 }), { nil: undefined }) });
      fc.assert(
        fc.property(fc.array(request, { maxLength: 8 }), (requests) => {
          const kept = onePerAudience(requests);
          expect(kept.map((one) => one.audience)).to.deep.equal([...new Set(requests.map((one) => one.audience))]);
          for (const one of kept) expect(one).to.equal(requests.find((candidate) => candidate.audience === one.audience));
        }),
      );
    });
  });
});
