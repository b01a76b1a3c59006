import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../support/project-root.js';
import type { Observations } from './observations.js';

/** A leaf recorded by one driver only shows as this on the other side. */
export const ABSENT = '(none)';

/** One aspect in which the two drivers behaved differently. */
export interface Difference {
  readonly aspect: string;
  readonly upstream: string;
  readonly ours: string;
}

/** Every leaf whose values differ between the upstream driver's run and this driver's, sorted by aspect. */
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
export const DOC_SECTION = 'What changes';
/** The table of the section that the differential suite checks (the section has other, prose, items too). */
export const DOC_TABLE_HEADING = 'Checked against a running upstream';

/** The rows of the checked table of the "What changes" section. */
export function listedDifferences(text: string = readFileSync(join(projectRoot(import.meta.url), DOC), 'utf8')): ListedDifference[] {
  const section = between(text, `\n## ${DOC_SECTION}\n`, '\n## ');
  const table = between(section, `\n### ${DOC_TABLE_HEADING}\n`, '\n#');
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = splitRow(line);
      if (cells.length !== 4) throw new Error(`${DOC}: a row of "${DOC_TABLE_HEADING}" needs 4 cells: ${line}`);
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
