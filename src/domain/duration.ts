import { DomainError } from './errors.js';

/** Each unit as a ratio to a millisecond (multiplier / divisor), so whole units are computed exactly. */
const UNIT_MS: Readonly<Record<string, { readonly mul: number; readonly div: number }>> = {
  ns: { mul: 1, div: 1e6 },
  us: { mul: 1, div: 1e3 },
  'µs': { mul: 1, div: 1e3 },
  ms: { mul: 1, div: 1 },
  s: { mul: 1000, div: 1 },
  m: { mul: 60_000, div: 1 },
  h: { mul: 3_600_000, div: 1 },
};

/** Go's largest Duration (2^63-1 ns) in milliseconds; Go rejects anything longer. */
const MAX_DURATION_MS = 9_223_372_036_854.775807;

const DURATION = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g;

/** Parses a Go duration (`2m`, `30s`, `1h30m`, `1.5s`, `0`) into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const invalid = () => new DomainError('InvalidDuration', `invalid duration "${text}" (use Go syntax such as 30s, 2m or 1h30m)`);
  const match = DURATION.exec(trimmed);
  if (!match) throw invalid();
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    // Whole and fractional parts apart: `1.1s` is 1000 + 100 ms exactly, not 1.1 * 1000 = 1100.0000000000002.
    const [whole = '', fraction = ''] = amount!.split('.');
    const digits = fraction.slice(0, 15);
    const { mul, div } = UNIT_MS[unit!]!;
    const wholeMs = Number(whole || '0') * mul;
    const fractionMs = digits === '' ? 0 : (Number(digits) * mul) / 10 ** digits.length;
    total += (wholeMs + fractionMs) / div;
  }
  if (!(total <= MAX_DURATION_MS)) throw invalid();
  return match[1] === '-' ? -total : total;
}

/** Formats milliseconds the way Go prints durations (`2m0s`, `1.5s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${trimNumber(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = trimNumber(rest / 1000);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function trimNumber(value: number): string {
  return String(Number(value.toFixed(3)));
}
