/**
 * Differences from upstream, observed and listed: both sides are recorded as leaves, the leaves that differ are
 * compared with a table of docs/operations.md, and a difference that is not listed (with both values), or a row
 * that no longer differs, is a problem. Used by the side-by-side run of the drivers and by the chart parity check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './project-root.js';

/**
 * What one side did or has (a driver's run, a chart, a manifest), flattened to `aspect -> value` leaves (strings),
 * so that two sides compare leaf by leaf and every difference is one named row. Values are normalised (names, uids,
 * paths and times replaced by placeholders) before they are recorded, so that the same side recorded twice gives
 * the same leaves.
 */
export class Observations {
  readonly leaves = new Map<string, string>();

  constructor(private readonly normalise: (text: string) => string) {}

  record(aspect: string, value: string): void {
    this.leaves.set(aspect, this.normalise(value));
  }

  /** Every leaf of a JSON value under `aspect` (`aspect: a.b[0].c`), objects' keys sorted. */
  recordJson(aspect: string, value: unknown): void {
    for (const [path, leaf] of jsonLeaves(value)) this.record(path === '' ? aspect : `${aspect}: ${path}`, leaf);
  }
}

function jsonLeaves(value: unknown, path = ''): [string, string][] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [[path, '[]']];
    return value.flatMap((item, index) => jsonLeaves(item, `${path}[${index}]`));
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return [[path, '{}']];
    return keys.flatMap((key) => jsonLeaves((value as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`));
  }
  return [[path, JSON.stringify(value)]];
}

/** A leaf recorded by one side only shows as this on the other. */
export const ABSENT = '(none)';

/** One aspect in which upstream and this project differ. */
export interface Difference {
  readonly aspect: string;
  readonly upstream: string;
  readonly ours: string;
}

/** Every leaf whose values differ between upstream's observations and this project's, sorted by aspect. */
export function differences(upstream: Observations, ours: Observations): Difference[] {
  const aspects = [...new Set([...upstream.leaves.keys(), ...ours.leaves.keys()])].sort();
  return aspects
    .map((aspect) => ({ aspect, upstream: upstream.leaves.get(aspect) ?? ABSENT, ours: ours.leaves.get(aspect) ?? ABSENT }))
    .filter((difference) => difference.upstream !== difference.ours);
}

/**
 * A row of the table in docs/operations.md, "What changes": an aspect pattern (`*` matches anything), what
 * upstream does, what this driver does, and why.
 */
export interface ListedDifference {
  readonly pattern: string;
  readonly upstream: string;
  readonly ours: string;
  readonly why: string;
}

export const DOC = 'docs/operations.md';

/** Where a table of listed differences is in the doc: the `## ` section and the `### ` heading of the table. */
export interface DocTable {
  readonly section: string;
  readonly table: string;
}

/** The differences the side-by-side run finds. */
export const RUNTIME_DIFFERENCES: DocTable = { section: 'What changes', table: 'Checked against a running upstream' };

/** The rows of a table of listed differences in the doc. */
export function listedDifferences(where: DocTable, text: string = readFileSync(join(projectRoot(import.meta.url), DOC), 'utf8')): ListedDifference[] {
  const section = between(text, `\n## ${where.section}\n`, '\n## ');
  const table = between(section, `\n### ${where.table}\n`, '\n#');
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = splitRow(line);
      if (cells.length !== 4) throw new Error(`${DOC}: a row of "${where.table}" needs 4 cells: ${line}`);
      return { pattern: unquote(cells[0]!), upstream: unquote(cells[1]!), ours: unquote(cells[2]!), why: cells[3]! };
    });
}

/** What is wrong between the observed differences and the listed ones; empty when the doc is exact. */
export function unlistedOrStale(observed: readonly Difference[], listed: readonly ListedDifference[]): string[] {
  const problems: string[] = [];
  const used = new Set<ListedDifference>();
  for (const difference of observed) {
    const rows = listed.filter((row) => matches(row.pattern, difference.aspect));
    const exact = rows.find((row) => row.upstream === difference.upstream && row.ours === difference.ours);
    if (exact !== undefined) {
      used.add(exact);
      continue;
    }
    problems.push(
      rows.length === 0
        ? `unlisted: | \`${difference.aspect}\` | \`${difference.upstream}\` | \`${difference.ours}\` |`
        : `listed as ${rows.map((row) => `\`${row.upstream}\` / \`${row.ours}\``).join(' or ')} but observed \`${difference.upstream}\` / \`${difference.ours}\`: \`${difference.aspect}\``,
    );
  }
  for (const row of listed) {
    if (!used.has(row)) problems.push(`listed but not observed (any more): \`${row.pattern}\` (\`${row.upstream}\` / \`${row.ours}\`)`);
  }
  return problems;
}

function matches(pattern: string, aspect: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return regex.test(aspect);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  if (from < 0) throw new Error(`${DOC}: "${start.trim()}" not found`);
  const to = text.indexOf(end, from + start.length);
  return text.slice(from + start.length, to < 0 ? undefined : to);
}

/** The cells of a markdown table row; `\|` stays inside a cell. */
function splitRow(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

function unquote(cell: string): string {
  return cell.startsWith('`') && cell.endsWith('`') && cell.length >= 2 ? cell.slice(1, -1) : cell;
}
