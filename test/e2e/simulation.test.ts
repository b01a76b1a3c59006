import { readdir } from 'node:fs/promises';
import { expect } from 'chai';
import { demoDurations } from '../../src/app/simulation/check-timing.js';
import { formatDuration } from '../../src/domain/duration.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { CliProcess, mountsUnder } from './processes.js';

/**
 * `secrets-store-csi simulate` as a user runs it (what `npm start` runs): a real process with the
 * fake kubelet, the driver, the fake provider and real tmpfs mounts. Its temporary work directory
 * (`sscsi-*`) is made under a private TMPDIR so checks and cleanup never touch another run's.
 */
describe('e2e: simulate', function () {
  this.timeout(90_000);
  let sandbox: TmpfsSandbox;
  let child: CliProcess | undefined;

  beforeEach(async () => {
    sandbox = await TmpfsSandbox.create('sim-e2e-');
  });

  afterEach(async () => {
    await child?.dispose();
    child = undefined;
    await sandbox.dispose();
  });

  it('runs the scenario end to end: pods, store changes, verified rotations, Secret sync, class change, on-demand rotation, provider outage, cleanup', async () => {
    child = CliProcess.start(['simulate', '--duration', '12s', '--interval', '1s', '--rotate-every', '3s'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(60_000);
    const out = child.stdout;
    const context = `\nstdout:\n${out}\nstderr:\n${child.stderr}`;

    expect(exit, context).to.deep.equal({ code: 0, signal: null });
    expect(out, context).to.match(/^Simulation: 3 pods, rotation poll interval 1s, a secret changes every 3s, for 12s\.$/m);
    for (const pod of ['web-0', 'web-1']) {
      expect(out, context).to.match(new RegExp(`kubelet default/${pod} +pod started: web-secrets mounted \\(db-password v1, api-key v1\\)`));
    }
    expect(out, context).to.match(/kubelet default\/worker-0 +pod started: worker-secrets mounted \(queue-token v1\)/);
    // The worker pod runs with fsGroup 2000: its files belong to the group and are not world-readable.
    expect(out, context).to.match(/files +default\/worker-0 +fsGroup 2000: queue-token root:2000 0640$/m);
    expect(out, context).to.match(/store +db-password +v1 -> v2 +\(changed in the external store\)/);
    expect(out, context).to.match(/mount +default\/web-\d +db-password v1 -> v2 .*\[files verified\]/);
    expect(out, context).to.match(/secret +default\/web-credentials +data updated: password/);
    expect(out, context).to.match(/class +default\/web-secrets +SecretProviderClass changed: \+ object tls-bundle/);
    // A store change checked together with the class change shares the line: `api-key v1 -> v2, +tls-bundle v1`.
    expect(out, context).to.match(/mount +default\/web-\d +(\S.*, )?\+tls-bundle v1\b.*\[files verified\]/);
    // On demand: the worker's object changes right after its scheduled check, and the annotation brings it at once.
    expect(out, context).to.match(/pod +default\/worker-0 +annotated secrets-store\.csi\.k8s\.io\/rotate-requested-at=\d{4}-\d\d-\d\dT[\d:.]+Z/);
    const onDemand = /demand +default\/worker-0 +on demand: queue-token v\d+ -> v\d+ rotated in (\d+) ms +\(its poll interval would not have checked it for another [\d.]+s\)/.exec(out);
    expect(onDemand, context).not.to.equal(null);
    // Provider outage: every pod's check fails and keeps its files; web-0's status shows why until the next check.
    expect(out, context).to.match(/outage +provider fake +down: every Mount call fails with UNAVAILABLE/);
    for (const pod of ['web-0', 'web-1', 'worker-0']) {
      expect(out, context).to.match(new RegExp(`failed +default/${pod} +check failed during the provider outage: ProviderUnavailable +\\[old files kept, verified unchanged\\]`));
    }
    expect(out, context).to.match(/status +default\/web-0 +lastRotationError: provider "fake" at \S+ is unavailable/);
    expect(out, context).to.match(/outage +provider fake +up again: Mount calls answer/);
    expect(out, context).to.match(/status +default\/web-0 +lastRotationError cleared by the next check \(rotated\)/);
    expect(out, context).not.to.contain('FILES CHANGED');
    expect(out, context).not.to.contain('skipped');
    expect(out, context).not.to.contain('FILES DO NOT MATCH');
    expect(out, context).not.to.match(/FAILED/);
    for (const pod of ['web-0', 'web-1', 'worker-0']) {
      expect(out, context).to.match(new RegExp(`kubelet default/${pod} +pod deleted: volume unpublished`));
    }
    expect(out, context).to.contain('synced Secret and pod statuses garbage-collected with their owners');
    const summary =
      /^Summary: (\d+) store changes; (\d+) mount rotations \(.*\); on-demand rotation in (\d+) ms; (\d+) synced Secret updates; (\d+) Deployment restarts? on rotation; provider outage: (\d+) failed checks?, files kept; \d+ provider calls; (\d+) failures\.$/m.exec(out);
    expect(summary, context).not.to.equal(null);
    const [, storeChanges, mountRotations, onDemandMs, secretUpdates, restarts, outageFailures, failures] = summary!.map(Number);
    expect(storeChanges, context).to.be.at.least(2);
    expect(mountRotations, context).to.be.at.least(2);
    expect(secretUpdates, context).to.be.at.least(1);
    expect(onDemandMs, context).to.equal(Number(onDemand![1]));
    expect(outageFailures, context).to.be.at.least(3);
    // Restarts on rotation: one per rotation of the web pods' class, each for its own hash.
    const restartLines = [...out.matchAll(/restart +default\/web +Deployment restarted: restarting pods after a rotation of SecretProviderClass web-secrets \((.+)\) +\(restarted-for ([0-9a-f]{12})…\)/g)];
    expect(restartLines.length, context).to.equal(restarts);
    expect(restarts, context).to.be.at.least(1);
    expect(new Set(restartLines.map((line) => line[2])).size, context).to.equal(restarts);
    expect(failures, context).to.equal(0);

    // The simulation unmounted every tmpfs and removed its work directory.
    expect(mountsUnder(sandbox.root).filter((point) => point.includes('/sscsi-'))).to.deep.equal([]);
    expect((await readdir(sandbox.root)).filter((name) => name.startsWith('sscsi-'))).to.deep.equal([]);
  });

  it('skips the on-demand rotation and the provider outage, saying so, when the run is too short for them', async () => {
    child = CliProcess.start(['simulate', '--duration', '4s', '--interval', '2s', '--rotate-every', '1s'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(60_000);
    const out = child.stdout;
    const context = `\nstdout:\n${out}\nstderr:\n${child.stderr}`;

    expect(exit, context).to.deep.equal({ code: 0, signal: null });
    // What each step may need follows from the interval, the jitter and the 3 pods sharing 4 workers.
    const needs = demoDurations({ intervalMs: 2_000, jitterFraction: 0.1, workers: 4, mounts: 3 });
    const shown = (ms: number): string => formatDuration(Math.ceil(ms / 100) * 100).replaceAll('.', '\\.');
    expect(out, context).to.match(new RegExp(`skipped on-demand rotation +needs up to ${shown(needs.onDemandMs)}, [\\d.]+s left: run with a longer --duration to see it`));
    expect(out, context).to.match(new RegExp(`skipped provider outage +needs up to ${shown(needs.outageMs)}, [\\d.]+s left: run with a longer --duration to see it`));
    expect(out, context).not.to.match(/annotated|on demand|outage +provider/);
    expect(out, context).to.match(/^Summary: .*mount rotations \(change -> files [^)]*\); \d+ synced Secret updates; \d+ Deployment restarts? on rotation; \d+ provider calls; 0 failures\.$/m);
  });

  it('exits 2 naming the flag for --pods 0, before starting anything', async () => {
    child = CliProcess.start(['simulate', '--pods', '0'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(20_000);
    expect(exit).to.deep.equal({ code: 2, signal: null });
    expect(child.stderr).to.contain('invalid value "0" for flag "--pods"');
    expect(child.stdout).to.equal('');
    expect((await readdir(sandbox.root)).filter((name) => name.startsWith('sscsi-'))).to.deep.equal([]);
  });
});
