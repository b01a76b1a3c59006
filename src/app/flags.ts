import { parseDuration } from '../domain/duration.js';

export type FlagKind = 'string' | 'bool' | 'int' | 'float' | 'duration' | 'list';
export type FlagValue = string | boolean | number | string[];

export interface FlagDefinition {
  readonly name: string;
  readonly kind: FlagKind;
  readonly default: FlagValue;
  readonly help: string;
  /** Environment variable read when the flag is not given (e.g. CSI_ENDPOINT). */
  readonly env?: string;
}

/** A bad command line: the message names the flag and what was wrong; the CLI exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Go `flag`-style parsing, as the upstream driver's flags are written: `-name`, `--name`, `=value`
 * or a separate value, booleans without a value, durations like `2m` (in milliseconds here), lists
 * comma-separated or repeated. Unknown flags and stray arguments are errors.
 */
export function parseFlags(
  definitions: readonly FlagDefinition[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): Record<string, FlagValue> {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const values: Record<string, FlagValue> = {};
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === '-' || arg === '--') throw new UsageError(`unexpected argument "${arg}"`);
    const [, name, inline] = match;
    const definition = byName.get(name!);
    if (definition === undefined) throw new UsageError(`unknown flag "--${name}"`);
    let raw = inline;
    if (raw === undefined && definition.kind !== 'bool') {
      if (i + 1 >= argv.length) throw new UsageError(`flag "--${name}" needs a value`);
      raw = argv[++i];
    }
    const value = convert(definition, raw ?? 'true');
    values[definition.name] =
      definition.kind === 'list' && given.has(definition.name) ? [...(values[definition.name] as string[]), ...(value as string[])] : value;
    given.add(definition.name);
  }
  for (const definition of definitions) {
    if (given.has(definition.name)) continue;
    const fromEnv = definition.env ? env[definition.env] : undefined;
    // A copy of a list default: callers may change their result without changing the definition.
    const fallback = Array.isArray(definition.default) ? [...definition.default] : definition.default;
    values[definition.name] = fromEnv !== undefined && fromEnv !== '' ? convert(definition, fromEnv) : fallback;
  }
  return values;
}

function convert(definition: FlagDefinition, raw: string): FlagValue {
  const fail = (expected: string): never => {
    throw new UsageError(`invalid value "${raw}" for flag "--${definition.name}": ${expected}`);
  };
  switch (definition.kind) {
    case 'string':
      return raw;
    case 'bool':
      if (['true', '1', 't', 'TRUE', 'True', 'T'].includes(raw)) return true;
      if (['false', '0', 'f', 'FALSE', 'False', 'F'].includes(raw)) return false;
      return fail('expected true or false');
    case 'int':
      return /^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : fail('expected an integer');
    case 'float':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : fail('expected a number');
    case 'duration':
      try {
        return parseDuration(raw);
      } catch {
        return fail('expected a duration such as 30s, 2m or 1h30m');
      }
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  }
}

/** `--help` text: one line per flag with its default. */
export function usage(command: string, summary: string, definitions: readonly FlagDefinition[]): string {
  const lines = definitions.map((d) => {
    const shown = Array.isArray(d.default) ? d.default.join(',') : d.kind === 'duration' ? `${Number(d.default) / 1000}s` : String(d.default);
    const env = d.env ? ` (env ${d.env})` : '';
    return `  --${d.name}\n        ${d.help} (default "${shown}")${env}`;
  });
  return [`Usage: secrets-store-csi ${command} [flags]`, '', summary, '', 'Flags:', ...lines].join('\n');
}
