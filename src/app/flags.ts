import { parseDuration } from '../domain/duration.js';

export type FlagKind = 'string' | 'bool' | 'int' | 'float' | 'duration' | 'list' | 'map';
/** A `map` flag is `key=value`, repeated; a value may hold commas and `=`. */
export type FlagValue = string | boolean | number | string[] | Readonly<Record<string, string>>;

export interface FlagDefinition {
  readonly name: string;
  readonly kind: FlagKind;
  readonly default: FlagValue;
  readonly help: string;
  /** Environment variable read when the flag is not given (e.g. CSI_ENDPOINT). */
  readonly env?: string;
  /** Checks a value of the right kind; returns the expected form (e.g. "a duration greater than zero") when it is bad. */
  readonly check?: (value: FlagValue) => string | undefined;
  /** The default as `--help` shows it, where the value itself would mislead (e.g. "a new temporary directory"). */
  readonly shownDefault?: string;
  /**
   * A flag of the upstream driver that this driver accepts and does not act on: why. A value other than the
   * default is named in a warning at start (see `ignoredFlagWarnings`).
   */
  readonly ignored?: string;
  /** Accepted but not listed by `--help` (the upstream driver does not list it either). */
  readonly hidden?: boolean;
}

/** The parsed values of a command line, one per defined flag. */
export type FlagValues = Record<string, FlagValue>;

/** A bad command line: the message names the flag and what was wrong; the CLI exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const GIVEN = Symbol('flags given on the command line or in the environment');

/**
 * Go `flag`-style parsing, as the upstream driver's flags are written: `-name`, `--name`, `=value`
 * or a separate value, booleans without a value (`-h` means `-help`), durations like `2m` (in
 * milliseconds here), lists comma-separated or repeated. Unknown flags, stray arguments and values
 * a flag's check refuses are errors naming the flag and the expected form.
 */
export function parseFlags(definitions: readonly FlagDefinition[], argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): FlagValues {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  if (byName.has('help') && !byName.has('h')) byName.set('h', byName.get('help')!);
  const values: FlagValues = {};
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === '-' || arg === '--' || arg.startsWith('---')) throw new UsageError(`unexpected argument "${arg}"`);
    const [, name, inline] = match;
    const definition = byName.get(name!);
    if (definition === undefined) throw new UsageError(`unknown flag "--${name}"`);
    let raw = inline;
    if (raw === undefined && definition.kind !== 'bool') {
      if (i + 1 >= argv.length) throw new UsageError(`flag "--${definition.name}" needs a value`);
      raw = argv[++i];
    }
    const value = convert(definition, raw ?? 'true');
    values[definition.name] = given.has(definition.name) ? accumulate(definition.kind, values[definition.name]!, value) : value;
    given.add(definition.name);
  }
  for (const definition of definitions) {
    if (given.has(definition.name)) continue;
    const fromEnv = definition.env ? env[definition.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      values[definition.name] = convert(definition, fromEnv);
      given.add(definition.name);
      continue;
    }
    // A copy of a list or map default: callers may change their result without changing the definition.
    const fallback = definition.default;
    values[definition.name] = Array.isArray(fallback) ? [...fallback] : typeof fallback === 'object' ? { ...fallback } : fallback;
  }
  Object.defineProperty(values, GIVEN, { value: given, enumerable: false });
  return values;
}

/** Whether a flag was set on the command line or through its environment variable (not left at its default). */
export function wasGiven(values: FlagValues, name: string): boolean {
  const given = (values as { [GIVEN]?: ReadonlySet<string> })[GIVEN];
  return given?.has(name) ?? false;
}

/** A repeated list or map flag adds to what came before; any other flag's last occurrence wins (as Go flag). */
function accumulate(kind: FlagKind, before: FlagValue, value: FlagValue): FlagValue {
  if (kind === 'list') return [...(before as string[]), ...(value as string[])];
  if (kind === 'map') return { ...(before as Record<string, string>), ...(value as Record<string, string>) };
  return value;
}

function convert(definition: FlagDefinition, raw: string): FlagValue {
  const fail = (expected: string): never => {
    throw new UsageError(`invalid value "${raw}" for flag "--${definition.name}": expected ${expected}`);
  };
  const value = convertKind(definition.kind, raw, fail);
  const expected = definition.check?.(value);
  return expected === undefined ? value : fail(expected);
}

function convertKind(kind: FlagKind, raw: string, fail: (expected: string) => never): FlagValue {
  switch (kind) {
    case 'string':
      return raw;
    case 'bool':
      if (['true', '1', 't', 'TRUE', 'True', 'T'].includes(raw)) return true;
      if (['false', '0', 'f', 'FALSE', 'False', 'F'].includes(raw)) return false;
      return fail('true or false');
    case 'int':
      return /^[+-]?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : fail('an integer');
    case 'float':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : fail('a number');
    case 'duration':
      try {
        return parseDuration(raw);
      } catch {
        return fail('a duration such as 30s, 2m or 1h30m');
      }
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    case 'map': {
      const equals = raw.indexOf('=');
      return equals > 0 ? { [raw.slice(0, equals)]: raw.slice(equals + 1) } : fail('key=value');
    }
  }
}

/** The start-up warnings for upstream flags given a value this driver does not act on, one line each. */
export function ignoredFlagWarnings(definitions: readonly FlagDefinition[], values: FlagValues): string[] {
  return definitions
    .filter((d) => d.ignored !== undefined && !sameValue(values[d.name], d.default))
    .map((d) => `flag --${d.name}=${showValue(d, values[d.name]!)} has no effect: ${d.ignored}`);
}

function sameValue(a: FlagValue | undefined, b: FlagValue): boolean {
  return typeof a === 'object' ? JSON.stringify(a) === JSON.stringify(b) : a === b;
}

/**
 * `--help` text in Go's layout: each flag with its kind on one line, then its help and default in the
 * documented form (`2m`, `false`, `"unix:///tmp/csi.sock"`), and its environment variable.
 */
export function usage(command: string, summary: string, definitions: readonly FlagDefinition[]): string {
  const lines = definitions
    .filter((d) => !d.hidden)
    .map((d) => {
      const env = d.env ? ` (env ${d.env})` : '';
      return `  --${d.name} ${d.kind}\n        ${d.help} (default ${d.shownDefault ?? showValue(d, d.default)})${env}`;
    });
  return [
    `Usage: secrets-store-csi ${command} [flags]`,
    '',
    summary,
    '',
    'Flags (--flag=value or --flag value, -flag alike; a bool is --flag or --flag=false; a duration is 30s, 2m or 1h30m):',
    ...lines,
  ].join('\n');
}

/** A value in the form a user would type it back: strings quoted, durations in Go's short form. */
export function showValue(definition: FlagDefinition, value: FlagValue): string {
  if (Array.isArray(value)) return JSON.stringify(value.join(','));
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'none' : Object.entries(value).map(([key, item]) => JSON.stringify(`${key}=${item}`)).join(' ');
  if (definition.kind === 'string') return JSON.stringify(value);
  if (definition.kind === 'duration') return shortDuration(value as number);
  return String(value);
}

/** A duration in milliseconds as the docs write it: whole units only (120000 -> 2m, 5400000 -> 1h30m, 250 -> 250ms, 0 -> 0s). */
export function shortDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const parts: string[] = [];
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const whole = Math.floor(rest / size);
    if (whole > 0) parts.push(`${whole}${unit}`);
    rest -= whole * size;
  }
  if (rest > 0) parts.push(`${Number(rest.toFixed(6))}ms`);
  return sign + parts.join('');
}
