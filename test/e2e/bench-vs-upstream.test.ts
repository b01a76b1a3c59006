import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import { requireUpstreamDriver } from '../support/upstream-driver.js';

/** The side-by-side bench is not a test; the suite only checks that every phase runs on a tiny configuration. */
describe('bench/vs-upstream --tiny', function () {
  this.timeout(600_000);

  before(function () {
    requireControlPlaneBinaries(this);
    for (const version of ['1.6.0', '1.4.8']) requireUpstreamDriver(this, version);
  });

  it('runs this driver and both upstream drivers through every phase and prints the table with ratios', async () => {
    const bench = fileURLToPath(new URL('../../bench/vs-upstream.js', import.meta.url));
    const { code, stdout, stderr } = await run(bench, ['--tiny']);
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(/^\| figure \| ours \| v1\.6\.0 \| v1\.4\.8 \| ours \/ v1\.6\.0 \| ours \/ v1\.4\.8 \|$/m);
    const rows = stdout.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| figure'));
    expect(rows.length).to.be.greaterThan(20);
    const cell = (label: RegExp, column: number): string => {
      const row = rows.find((line) => label.test(line));
      expect(row, `row ${label}`).not.to.equal(undefined);
      return row!.split('|').map((part) => part.trim())[column + 1]!;
    };
    // Every driver published, rotated and unpublished every mount.
    for (let column = 1; column <= 3; column++) {
      expect(Number(cell(/^\| publish p50, low rate/, column)), `publish p50 of column ${column}`).to.be.greaterThan(0);
      expect(cell(/^\| mounts still old/, column), `mounts left old in column ${column}`).to.equal('0');
      expect(Number(cell(/^\| unpublish C=\d+ \(per s\)/, column))).to.be.greaterThan(0);
      expect(Number(cell(/^\| RSS before any mount/, column))).to.be.greaterThan(0);
    }
    // This driver writes nothing to the API server when nothing changed.
    expect(cell(/^\| API writes, republish round/, 1)).to.equal('0');
  });
});

function run(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
