import { parse as parseYaml } from 'yaml';
import type { FakeObjectSeed } from './fake-secret-store.js';

/** One entry of the `objects` attribute: which object to return, under which file path and mode. */
export interface FakeObjectSpec {
  readonly name: string;
  readonly path: string;
  readonly mode: number | undefined;
}

/** What the fake provider reads from a MountRequest's `attributes` (the class parameters). */
export interface FakeMountAttributes {
  readonly objects: FakeObjectSpec[];
  readonly seeds: ReadonlyMap<string, FakeObjectSeed>;
}

/** Thrown for attributes a real provider would reject; the server answers INVALID_ARGUMENT. */
export class InvalidAttributesError extends Error {}

/**
 * Parses MountRequest attributes, remembering the YAML values of the `objects` and `seed` texts it
 * has seen: every pod of a class sends the same ones, and YAML parsing is what a Mount costs most.
 */
export class MountAttributesParser {
  private readonly texts = new Map<string, unknown>();

  parse(attributesJson: string): FakeMountAttributes {
    return parseMountAttributes(attributesJson, (text, attribute) => {
      if (this.texts.has(text)) return this.texts.get(text);
      const parsed = parseYamlText(text, attribute);
      if (this.texts.size >= PARSED_TEXTS_KEPT) this.texts.clear();
      this.texts.set(text, parsed);
      return parsed;
    });
  }
}

const PARSED_TEXTS_KEPT = 256;

/** The YAML value of an attribute text; the parsers below only read it, so a remembered value can be shared. */
type YamlReader = (text: string, attribute: string) => unknown;

/**
 * Parses the JSON `attributes` text. `objects` is YAML or JSON: a list of `{name, path?, mode?}` (or
 * of plain names), or a plain comma/space separated list of names. `seed` is an optional YAML map of
 * name -> contents text or `{contents?, version?}`.
 */
export function parseMountAttributes(attributesJson: string, readYaml: YamlReader = parseYamlText): FakeMountAttributes {
  let attributes: unknown;
  try {
    attributes = JSON.parse(attributesJson);
  } catch {
    throw new InvalidAttributesError('attributes is not valid JSON');
  }
  if (!isRecord(attributes)) throw new InvalidAttributesError('attributes must be a JSON object');
  return {
    objects: parseObjects(readYaml(stringAttribute(attributes, 'objects'), 'objects')),
    seeds: parseSeeds(readYaml(stringAttribute(attributes, 'seed'), 'seed')),
  };
}

function parseObjects(parsed: unknown): FakeObjectSpec[] {
  if (parsed === null || parsed === undefined) return [];
  if (typeof parsed === 'string') return parsed.split(/[\s,]+/).filter(Boolean).map((name) => objectSpec({ name }));
  if (!Array.isArray(parsed)) throw new InvalidAttributesError('objects must be a list');
  return parsed.map((entry) => objectSpec(typeof entry === 'string' ? { name: entry } : entry));
}

function objectSpec(entry: unknown): FakeObjectSpec {
  if (!isRecord(entry) || typeof entry.name !== 'string' || entry.name === '') {
    throw new InvalidAttributesError('each object needs a non-empty name');
  }
  if (entry.path !== undefined && typeof entry.path !== 'string') throw new InvalidAttributesError(`object "${entry.name}": path must be a string`);
  if (entry.mode !== undefined && !Number.isInteger(entry.mode)) throw new InvalidAttributesError(`object "${entry.name}": mode must be an integer`);
  return { name: entry.name, path: (entry.path as string | undefined) ?? entry.name, mode: entry.mode as number | undefined };
}

function parseSeeds(parsed: unknown): Map<string, FakeObjectSeed> {
  const seeds = new Map<string, FakeObjectSeed>();
  if (parsed === null || parsed === undefined) return seeds;
  if (!isRecord(parsed)) throw new InvalidAttributesError('seed must be a map of object name to contents');
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') seeds.set(name, { contents: value });
    else if (isRecord(value)) seeds.set(name, { contents: optionalString(value.contents), version: optionalString(value.version) });
    else throw new InvalidAttributesError(`seed "${name}" must be contents text or {contents, version}`);
  }
  return seeds;
}

function parseYamlText(text: string, attribute: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return parseYaml(text);
  } catch {
    throw new InvalidAttributesError(`${attribute} is neither YAML nor JSON`);
  }
}

function stringAttribute(attributes: Record<string, unknown>, key: string): string {
  const value = attributes[key];
  return typeof value === 'string' ? value : '';
}

function optionalString(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
