import { readdir } from 'node:fs/promises';
import { expect } from 'chai';
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

  it('runs the scenario end to end: pods, store changes, verified rotations, Secret sync, class change, cleanup', async () => {
    child = CliProcess.start(['simulate', '--duration', '9s', '--interval', '1s', '--rotate-every', '3s'], { TMPDIR: sandbox.root });
    const exit = await child.waitForExit(60_000);
    const out = child.stdout;
    const context = `\nstdout:\n${out}\nstderr:\n${child.stderr}`;

    expect(exit, context).to.deep.equal({ code: 0, signal: null });
    expect(out, context).to.match(/^Simulation: 3 pods, rotation poll interval 1s, a secret changes every 3s, for 9s\.$/m);
    for (const pod of ['web-0', 'web-1']) {
      expect(out, context).to.match(new RegExp(`kubelet default/${pod} +pod started: web-secrets mounted \\(db-password v1, api-key v1\\)`));
    }
    expect(out, context).to.match(/kubelet default\/worker-0 +pod started: worker-secrets mounted \(queue-token v1\)/);
    expect(out, context).to.match(/store +db-password +v1 -> v2 +\(changed in the external store\)/);
    expect(out, context).to.match(/mount +default\/web-\d +db-password v1 -> v2 .*\[files verified\]/);
    expect(out, context).to.match(/secret +default\/web-credentials +data updated: password/);
    expect(out, context).to.match(/class +default\/web-secrets +SecretProviderClass changed: \+ object tls-bundle/);
    expect(out, context).to.match(/mount +default\/web-\d +\+tls-bundle v1 +\[files verified\]/);
    expect(out, context).not.to.contain('FILES DO NOT MATCH');
    expect(out, context).not.to.match(/FAILED/);
    for (const pod of ['web-0', 'web-1', 'worker-0']) {
      expect(out, context).to.match(new RegExp(`kubelet default/${pod} +pod deleted: volume unpublished`));
    }
    expect(out, context).to.contain('synced Secret and pod statuses garbage-collected with the pods');
    const summary = /^Summary: (\d+) store changes; (\d+) mount rotations .*; (\d+) synced Secret updates; \d+ provider calls; (\d+) failures\.$/m.exec(out);
    expect(summary, context).not.to.equal(null);
    const [, storeChanges, mountRotations, secretUpdates, failures] = summary!.map(Number);
    expect(storeChanges, context).to.be.at.least(2);
    expect(mountRotations, context).to.be.at.least(2);
    expect(secretUpdates, context).to.be.at.least(1);
    expect(failures, context).to.equal(0);

    // The simulation unmounted every tmpfs and removed its work directory.
    expect(mountsUnder(sandbox.root).filter((point) => point.includes('/sscsi-'))).to.deep.equal([]);
    expect((await readdir(sandbox.root)).filter((name) => name.startsWith('sscsi-'))).to.deep.equal([]);
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
