import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { CliProcess, compiledMain, mountsUnder } from './processes.js';

/** Busy loops on every core, so the simulation runs on a machine as loaded as a user's can be. */
function startCpuHog(cores: number): ChildProcess[] {
  return Array.from({ length: cores }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

/** The steps a run narrates: each must be shown, or said to be skipped for lack of time. */
const STEPS: ReadonlyArray<{ readonly name: string; readonly shown: RegExp; readonly skipped: RegExp }> = [
  { name: 'a rotation reaching the files', shown: /^ +[\d.]+s +mount +default\/\S+ +.*\[files verified\]$/m, skipped: /skipped rotation end to end/ },
  { name: 'a synced Secret update', shown: /^ +[\d.]+s +secret +default\/web-credentials +data updated/m, skipped: /skipped rotation end to end/ },
  { name: 'the class change', shown: /class +default\/web-secrets +SecretProviderClass changed/, skipped: /$^/ },
  { name: 'the on-demand rotation', shown: /demand +default\/\S+ +on demand: .* rotated in \d+ ms/, skipped: /skipped on-demand rotation/ },
  { name: 'the provider outage', shown: /status +default\/web-0 +lastRotationError cleared by the next check/, skipped: /skipped provider outage/ },
  { name: 'a restart of the opted-in Deployment', shown: /restart +default\/web +Deployment restarted: /, skipped: /skipped rotation end to end/ },
];

/**
 * `npm start` on a loaded machine: every step waits for the events it narrates, with deadlines derived
 * from the interval, the workers and the pod count, so no run fails for being slow.
 */
describe('e2e: simulate under load', function () {
  this.timeout(300_000);
  let sandbox: TmpfsSandbox;
  let hog: ChildProcess[] = [];
  const runs: CliProcess[] = [];

  before(async () => {
    sandbox = await TmpfsSandbox.create('sim-load-');
  });

  after(async () => {
    for (const child of hog) child.kill('SIGKILL');
    await Promise.all(runs.map((run) => run.dispose()));
    await sandbox.dispose();
  });

  it('shows every step (or says why one was skipped) and exits 0 with 1, 3, 20 and 50 pods while both cores are busy', async () => {
    hog = startCpuHog(2);
    const podCounts = [1, 3, 20, 50];
    // Side by side: the runs load the machine further, as a user's other work would.
    for (const pods of podCounts) runs.push(CliProcess.start(['simulate', '--pods', String(pods)], { TMPDIR: sandbox.root }));
    const exits = await Promise.all(runs.map((run) => run.waitForExit(240_000)));
    for (const child of hog) child.kill('SIGKILL');

    podCounts.forEach((pods, i) => {
      const { stdout, stderr } = runs[i]!;
      const context = `\n--pods ${pods}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
      expect(exits[i], context).to.deep.equal({ code: 0, signal: null });
      expect(stdout, context).to.match(new RegExp(`^Simulation: ${pods} pods?, `, 'm'));
      for (const step of STEPS) {
        const shown = step.shown.test(stdout);
        const skipped = step.skipped.test(stdout);
        expect(shown || skipped, `${step.name} neither shown nor skipped${context}`).to.equal(true);
      }
      expect(stdout, context).not.to.match(/FAILED|FILES CHANGED|FILES DO NOT MATCH/);
      if (pods > 2) expect(stdout, context).to.match(/files +default\/worker-0 +fsGroup 2000: queue-token root:2000 0640$/m);
      expect(stdout, context).to.match(/^Summary: .* 0 failures\.$/m);
      expect(stderr, context).not.to.contain('MaxListenersExceededWarning');
      expect(stderr, context).not.to.contain('driver log kept');
    });
    expect(mountsUnder(sandbox.root)).to.deep.equal([]);
    expect((await readdir(sandbox.root)).filter((name) => name.startsWith('sscsi-'))).to.deep.equal([]);
  });
});

describe('e2e: simulate ends cleanly', function () {
  this.timeout(120_000);
  let sandbox: TmpfsSandbox;
  let child: CliProcess | undefined;

  beforeEach(async () => {
    sandbox = await TmpfsSandbox.create('sim-exit-');
  });

  afterEach(async () => {
    await child?.dispose();
    child = undefined;
    await sandbox.dispose();
  });

  it('ends like Ctrl-C when its reader goes away (`| head`): mounts removed, work directory gone', async () => {
    const shell = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${compiledMain()}" simulate --duration 0 | head -n 4`], {
      env: { ...process.env, TMPDIR: sandbox.root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => shell.once('exit', resolve));
    const context = `\nstdout:\n${stdout}\nstderr:\n${stderr}`;

    expect(code, context).to.equal(0);
    expect(stdout, context).to.match(/^Simulation: 3 pods, .* until Ctrl-C\.\n/);
    expect(stdout.split('\n'), context).to.have.length(5); // head's 4 lines, each ended
    expect(stderr, context).not.to.match(/EPIPE|Error/);
    expect(mountsUnder(sandbox.root), context).to.deep.equal([]);
    expect((await readdir(sandbox.root)).filter((name) => name.startsWith('sscsi-')), context).to.deep.equal([]);
  });

  it('keeps the driver log and prints its path when the run failed', async () => {
    // A kubelet root below a file: the fake kubelet cannot make the first pod's volume directory.
    child = CliProcess.start(['simulate', '--pods', '1', '--kubelet-root', '/dev/null/kubelet'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(60_000);
    const context = `\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`;
    expect(exit.code, context).to.equal(1);
    const kept = /driver log kept: (\S+)/.exec(child.stderr);
    expect(kept, context).not.to.equal(null);
    expect(kept![1]!.startsWith(`${sandbox.root}/sscsi-`), context).to.equal(true);
    expect(await readFile(kept![1]!, 'utf8'), context).to.contain('driver started');
    expect(await readdir(join(kept![1]!, '..')), context).to.deep.equal(['driver.log']);
  });

  it('keeps the driver log of a successful run with --keep', async () => {
    child = CliProcess.start(['simulate', '--pods', '1', '--duration', '3s', '--keep'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(60_000);
    const context = `\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`;
    expect(exit, context).to.deep.equal({ code: 0, signal: null });
    const kept = /driver log kept: (\S+)/.exec(child.stderr);
    expect(kept, context).not.to.equal(null);
    expect(await readFile(kept![1]!, 'utf8'), context).to.contain('driver started');
    expect(mountsUnder(sandbox.root), context).to.deep.equal([]);
  });
});
