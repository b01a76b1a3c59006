import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { CsiCallError, CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import { eventually } from '../contract/eventually.js';
import { aClassResource } from '../support/cluster-builders.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { readMountTimesThroughControl, readStateThroughControl, setFailureThroughControl, type FakeProviderSnapshot } from './fake-provider-control.js';
import { CliProcess, mountsUnder } from './processes.js';

const HEALTHY_CLASS = 'app-secrets';
const HUNG_CLASS = 'hung-secrets';
/** The driver's rotation interval and its rotation calls' deadline in these tests. */
const INTERVAL_MS = 2_000;
const ROTATION_CALL_TIMEOUT_MS = 60_000;

/** The healthy class of provider `fake` and the class of provider `hung`, one object each. */
function classes(): string {
  return [aClassResource({ name: HEALTHY_CLASS }), aClassResource({ name: HUNG_CLASS, provider: 'hung' })].map((spc) => stringify(spc)).join('---\n');
}

function aPod(name: string, className: string, index: number): FakePod {
  return {
    namespace: 'default',
    name,
    uid: `7e57ab1e-0000-4000-8000-${String(index).padStart(12, '0')}`,
    serviceAccountName: 'app',
    volumes: [{ name: 'secrets', volumeAttributes: { secretProviderClass: className } }],
  };
}

/** A driver process, its two providers (one of which is told to hang) and a fake kubelet over real sockets. */
class IsolationNode {
  readonly providers = new Map<string, { process: CliProcess; controlUrl: string }>();
  driver: CliProcess | undefined;
  client: CsiNodeClient | undefined;
  kubelet!: FakeKubelet;

  constructor(readonly sandbox: TmpfsSandbox) {}

  get csiSocket(): string {
    return join(this.sandbox.root, 'csi.sock');
  }

  async start(driverFlags: readonly string[]): Promise<void> {
    const manifests = join(this.sandbox.root, 'manifests');
    await mkdir(manifests, { recursive: true });
    await writeFile(join(manifests, 'classes.yaml'), classes());
    for (const name of ['fake', 'hung']) {
      const process = CliProcess.start(['fake-provider', '--endpoint', `unix://${join(this.sandbox.root, 'providers', `${name}.sock`)}`, '--control-port', '0']);
      const controlUrl = (await process.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
      this.providers.set(name, { process, controlUrl });
    }
    this.driver = CliProcess.start([
      'driver',
      '--cluster=memory',
      `--manifests=${manifests}`,
      `--endpoint=unix://${this.csiSocket}`,
      '--nodeid=node-1',
      `--provider-volume=${join(this.sandbox.root, 'providers')}`,
      '--additional-provider-volume-paths=',
      `--kubelet-root=${this.sandbox.kubeletRoot}`,
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      ...driverFlags,
    ]);
    await eventually(() => {
      if (!this.driver!.running) throw new Error(`driver exited early${this.logs()}`);
      expect(existsSync(this.csiSocket), 'CSI socket').to.equal(true);
    }, 20_000, 25);
    this.client = new CsiNodeClient(this.csiSocket);
    this.kubelet = new FakeKubelet(this.client, this.sandbox.kubeletRoot);
  }

  state(provider: string): Promise<FakeProviderSnapshot> {
    return readStateThroughControl(this.providers.get(provider)!.controlUrl);
  }

  hang(provider: string): Promise<void> {
    return setFailureThroughControl(this.providers.get(provider)!.controlUrl, { delayMs: 3_600_000 });
  }

  logs(): string {
    return `\ndriver stderr:\n${this.driver?.stderr ?? ''}`;
  }

  async dispose(): Promise<void> {
    this.client?.close();
    await this.driver?.dispose();
    for (const { process } of this.providers.values()) await process.dispose();
  }
}

/**
 * Isolation as a node sees it: the driver process with two provider processes, one of which accepts
 * rotation calls and never answers, and kubelet's calls over the CSI socket. The hung calls' deadline
 * (`--rotation-call-timeout`) is far beyond each test, so every hung call stays open throughout.
 */
describe('e2e: one hung provider does not hurt the others', function () {
  this.timeout(120_000);
  let sandbox: TmpfsSandbox;
  let node: IsolationNode;
  const healthy = aPod('healthy', HEALTHY_CLASS, 0);
  const hungPods = Array.from({ length: 8 }, (_, i) => aPod(`hung-${i + 1}`, HUNG_CLASS, i + 1));

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-iso-');
    node = new IsolationNode(sandbox);
    await node.start([
      '--enable-secret-rotation',
      `--rotation-poll-interval=${INTERVAL_MS}ms`,
      '--rotation-jitter=0',
      '--rotation-workers=4',
      `--rotation-call-timeout=${ROTATION_CALL_TIMEOUT_MS}ms`,
    ]);
    await node.kubelet.startPod(healthy);
    for (const pod of hungPods) await node.kubelet.startPod(pod);
    await node.hang('hung');
  });

  after(async () => {
    await node?.dispose();
    await sandbox?.dispose();
  });

  it('lets the hung provider hold all but one slot, and checks the healthy mount within 1.5 x the interval, every interval', async () => {
    await eventually(async () => expect((await node.state('hung')).mountsInFlight, 'hung checks holding slots').to.equal(3), 4 * INTERVAL_MS + 10_000, 50);
    const from = (await node.state('fake')).mountCount;
    const deadline = Date.now() + 8 * INTERVAL_MS + 20_000;
    for (let checked = 0; checked < 6; checked = (await node.state('fake')).mountCount - from) {
      const hung = await node.state('hung');
      expect([hung.mountsInFlight, hung.cancelledMounts], 'the hung calls stay open and never get a fourth slot').to.deep.equal([3, 0]);
      expect(Date.now(), `only ${checked} healthy checks so far${node.logs()}`).to.be.below(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // When the healthy provider saw each check (its own clock, whatever this process's polling lags).
    const times = (await readMountTimesThroughControl(node.providers.get('fake')!.controlUrl)).slice(-6);
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    for (const gap of gaps) expect(gap, `gaps between healthy checks ${JSON.stringify(gaps)}`).to.be.at.most(1.5 * INTERVAL_MS);
  });

  it('serves a new publish of the healthy provider at once while the hung checks hold their slots', async () => {
    const late = aPod('late', HEALTHY_CLASS, 9);

    await node.kubelet.startPod(late);

    expect(mountsUnder(sandbox.kubeletRoot)).to.include(node.kubelet.targetPath(late, 'secrets'));
    const hung = await node.state('hung');
    expect([hung.mountsInFlight, hung.cancelledMounts], 'the hung calls are still open').to.deep.equal([3, 0]);
  });

  it('unpublishes every hung mount at once: checks in flight are cancelled at the provider, not waited for', async () => {
    const before = await node.state('hung');
    expect(before.mountsInFlight).to.equal(3);
    const started = Date.now();

    for (const pod of hungPods) await node.kubelet.deletePod(pod.uid);

    const elapsed = Date.now() - started;
    expect(elapsed, 'far within the hung calls\' deadline').to.be.below(ROTATION_CALL_TIMEOUT_MS / 6);
    await eventually(async () => {
      // Each freed slot went to another due hung mount, whose unpublish then cancelled it in turn.
      const after = await node.state('hung');
      const callsToCancel = before.mountsInFlight + (after.mountCount - before.mountCount);
      expect([after.mountsInFlight, after.cancelledMounts - before.cancelledMounts], 'in flight, cancelled').to.deep.equal([0, callsToCancel]);
    }, 10_000, 25);
    for (const pod of hungPods) expect(mountsUnder(sandbox.kubeletRoot)).not.to.include(node.kubelet.targetPath(pod, 'secrets'));
  });
});

describe('e2e: provider answers are admitted against the payload memory budget', function () {
  this.timeout(60_000);
  let sandbox: TmpfsSandbox;
  let node: IsolationNode;
  const MAX_ANSWER = 1_048_576;

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-budget-');
    node = new IsolationNode(sandbox);
    // The smallest budget there is: one answer of the largest size, held twice.
    await node.start([`--max-call-recv-msg-size=${MAX_ANSWER}`, `--payload-memory-budget=${2 * MAX_ANSWER}`]);
  });

  after(async () => {
    await node?.dispose();
    await sandbox?.dispose();
  });

  it('lets a publish wait while another answer holds the whole budget, and mounts it once that one is written', async () => {
    await setFailureThroughControl(node.providers.get('fake')!.controlUrl, { delayMs: 2_000, times: 1 });
    const first = aPod('waited-for', HEALTHY_CLASS, 3);
    const firstPublish = node.kubelet.startPod(first);
    await eventually(async () => expect((await node.state('fake')).mountsInFlight).to.equal(1), 10_000, 25);
    const waiting = aPod('waiting', HEALTHY_CLASS, 4);

    await node.kubelet.startPod(waiting);
    await firstPublish;

    for (const pod of [first, waiting]) expect(mountsUnder(sandbox.kubeletRoot)).to.include(node.kubelet.targetPath(pod, 'secrets'));
    expect((await node.state('fake')).mountCount, 'the waiting call went to the provider after the first').to.equal(2);
  });

  it('refuses a publish with RESOURCE_EXHAUSTED, naming the budget, when no room came in time, and writes nothing', async () => {
    // A class never fetched reserves the largest answer: all of the budget, held by a provider that hangs.
    await node.hang('hung');
    void node.kubelet.startPod(aPod('holding', HUNG_CLASS, 1)).catch(() => undefined);
    await eventually(async () => expect((await node.state('hung')).mountsInFlight).to.equal(1), 10_000, 25);
    const callsBefore = (await node.state('fake')).mountCount;
    const second = aPod('second', HEALTHY_CLASS, 2);

    const refused = await node.kubelet.startPod(second).then(
      () => expect.fail('the second publish must be refused'),
      (error: unknown) => error,
    );

    expect(refused).to.be.instanceOf(CsiCallError);
    expect((refused as CsiCallError).code).to.equal('RESOURCE_EXHAUSTED');
    expect((refused as CsiCallError).details).to.equal(
      'provider answers in flight hold 2.0 MiB of the 2.0 MiB payload memory budget (--payload-memory-budget) and this call needs 0.1 MiB; retry when they are written',
    );
    const target = node.kubelet.targetPath(second, 'secrets');
    expect(mountsUnder(sandbox.kubeletRoot), 'nothing mounted for the refused publish').not.to.include(target);
    expect(existsSync(target) ? await readdir(target) : [], 'nothing written').to.deep.equal([]);
    expect((await node.state('fake')).mountCount, 'the provider was not called for it').to.equal(callsBefore);
  });
});
