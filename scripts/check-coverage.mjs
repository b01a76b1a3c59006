// Fails when the pure domain's line coverage drops below the floor. Writes to stderr so the test
// runner's closing line stays the last line on stdout.
import { readFileSync } from 'node:fs';

const FLOOR = 90;
const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
let covered = 0;
let total = 0;
for (const [file, figures] of Object.entries(summary)) {
  if (!/\/src\/domain\/[^/]+\.ts$/.test(file)) continue;
  covered += figures.lines.covered;
  total += figures.lines.total;
}
const percent = total === 0 ? 0 : (100 * covered) / total;
process.stderr.write(`domain line coverage: ${percent.toFixed(1)}% (${covered}/${total}), floor ${FLOOR}%\n`);
if (total === 0 || percent < FLOOR) process.exit(1);
