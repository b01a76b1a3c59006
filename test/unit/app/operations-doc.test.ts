import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRIVER_FLAGS } from '../../../src/app/config.js';
import { RESTARTER_FLAGS } from '../../../src/app/restarter-config.js';
import type { FlagDefinition } from '../../../src/app/flags.js';
import { projectRoot } from '../../support/project-root.js';

/** docs/operations.md against the code it describes: flags with defaults, metric names, error messages. */
const ROOT = projectRoot(import.meta.url);
const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');

/** The markdown section under `## <title>`, up to the next `## `. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `section "${title}"`).to.be.greaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** A duration in milliseconds as Go prints it for whole units (120000 -> 2m, 5000 -> 5s, 5400000 -> 1h30m). */
function goDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  let seconds = ms / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const text = `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}`;
  return text || '0s';
}

function shownDefault(flag: FlagDefinition): string {
  if (Array.isArray(flag.default)) return flag.default.join(',');
  if (flag.kind === 'duration') return goDuration(flag.default as number);
  return String(flag.default);
}

/**
 * Every file under src/, concatenated: where the documented messages must come from. Named constants used in
 * template strings (`${CSI_PLUGIN_DIR}`, `${MANAGED_LABEL}`, `${PROVIDER_NAME_PATTERN.source}`) are replaced by
 * their values, so that a message reads as the user sees it.
 */
function sourceText(): string {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return files(path);
      return entry.name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
    });
  let text = files(join(ROOT, 'src')).join('\n');
  for (const [, name, value] of text.matchAll(/const ([A-Z][A-Z0-9_]*) = '([^'\n]*)';/g)) text = text.replaceAll(`\${${name}}`, value!);
  for (const [, name, pattern] of text.matchAll(/const ([A-Z][A-Z0-9_]*) = \/(.+)\/[a-z]*;/g)) text = text.replaceAll(`\${${name}.source}`, pattern!);
  return text;
}

/** A fixed part of a documented message is in the source whole, or in pieces joined by `: "` (e.g. `${reason}: "${path}"`). */
function inSource(source: string, fragment: string): boolean {
  if (source.includes(fragment)) return true;
  const pieces = fragment.split(': "').map((piece) => piece.trim()).filter((piece) => piece.length >= 4);
  return fragment.includes(': "') && pieces.length > 0 && pieces.every((piece) => source.includes(piece));
}

describe('docs/operations.md', () => {
  /** Problems of a flag table in `table` against the flags of a command. */
  function flagTableProblems(table: string, flags: readonly FlagDefinition[], command: string): string[] {
    const rows = new Map(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `--'))
        .map((line) => [/^\| `--([^`]+)`/.exec(line)![1]!, line]),
    );
    const problems: string[] = [];
    for (const flag of flags.filter((definition) => !definition.hidden)) {
      const row = rows.get(flag.name);
      if (row === undefined) {
        problems.push(`--${flag.name} is missing`);
        continue;
      }
      const cells = row.split('|').map((cell) => cell.trim());
      if (cells[2] !== flag.kind) problems.push(`--${flag.name}: kind should be ${flag.kind}`);
      if (!cells[3]?.startsWith(`\`${shownDefault(flag)}\``)) {
        problems.push(`--${flag.name}: default should be \`${shownDefault(flag)}\``);
      }
      if (flag.env && !row.includes(`env \`${flag.env}\``)) problems.push(`--${flag.name}: env ${flag.env} not named`);
    }
    const known = new Set(flags.map((flag) => flag.name));
    for (const name of rows.keys()) if (!known.has(name)) problems.push(`--${name} is documented but the ${command} has no such flag`);
    for (const flag of flags.filter((definition) => definition.hidden)) {
      if (!table.includes(`\`--${flag.name}\``)) problems.push(`--${flag.name} (not in --help) is not mentioned`);
    }
    return problems;
  }

  it('lists every driver flag with its kind and default', () => {
    expect(flagTableProblems(section('Flags'), DRIVER_FLAGS, 'driver')).to.deep.equal([]);
  });

  it('lists every restarter flag with its kind and default', () => {
    expect(flagTableProblems(section('Restart on rotation'), RESTARTER_FLAGS, 'restarter')).to.deep.equal([]);
  });

  it('names exactly the metrics the restarter registers', () => {
    const adapter = readFileSync(join(ROOT, 'src/adapters/prometheus/prometheus-restarter-metrics.ts'), 'utf8');
    const registered = [...adapter.matchAll(/name: '([a-z_]+)'/g)].map((match) => match[1]!).sort();
    const documented = [...section('Restart on rotation').matchAll(/^\| `([a-z_]+)` \| (?:counter|histogram|gauge) \|/gm)].map((match) => match[1]!).sort();
    expect(registered.length).to.be.greaterThan(0);
    expect(documented).to.deep.equal(registered);
  });

  it('names exactly the metrics the Prometheus adapter registers', () => {
    const adapter = readFileSync(join(ROOT, 'src/adapters/prometheus/prometheus-metrics.ts'), 'utf8');
    const registered = [...adapter.matchAll(/(?:counter|histogram|gauge)\(\s*'([a-z_]+)'/g)].map((match) => match[1]!).sort();
    const documented = [...section('Metrics').matchAll(/^\| `([a-z_]+)` \| (?:counter|histogram|gauge) \|/gm)].map((match) => match[1]!).sort();
    expect(registered.length).to.be.greaterThan(0);
    expect(documented).to.deep.equal(registered);
  });

  it('quotes the driver\'s troubleshooting messages word for word', () => {
    const source = sourceText();
    const messages = section('Troubleshooting')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([^`]+)`/.exec(line)![1]!);
    expect(messages.length).to.be.greaterThan(20);
    const missing: string[] = [];
    for (const message of messages) {
      // The fixed parts between the `<...>` placeholders are literal text in the source (template strings).
      for (const fragment of message.split(/<[^>]*>/).map((part) => part.trim()).filter((part) => part.length >= 4)) {
        if (!inSource(source, fragment)) missing.push(`${message}: "${fragment}"`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('names every event reason the driver records', () => {
    const events = readFileSync(join(ROOT, 'src/domain/events.ts'), 'utf8');
    const reasons = [...events.matchAll(/: '([A-Za-z]+)',/g)].map((match) => match[1]!);
    expect(reasons.length).to.equal(7);
    for (const reason of reasons) expect(section('Events')).to.include(`\`${reason}\``);
  });
});
