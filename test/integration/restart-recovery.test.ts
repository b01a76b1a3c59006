import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { CsiCallError, CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { InProcessSecretProvider } from '../../src/adapters/fake-provider/in-process-provider.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { chooseMountMode, nodeFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../../src/app/modules/provider.module.js';
import { startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';
import { aClassResource, aPodResource } from '../support/cluster-builders.js';
import { CollectingLogger } from '../support/driver-harness.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';

const POD_UID = '7e57ab1e-0000-4000-8000-000000000001';

/** One run of the node agent: what a driver process is, over a cluster, a provider and a kubelet root that outlive it. */
interface DriverRun {
  readonly agent: NodeAgent;
  readonly kubelet: CsiNodeClient;
  readonly metrics: MemoryMetrics;
  readonly logger: CollectingLogger;
}

/**
 * The driver restarted on a node: the in-memory cluster, the fake provider and the kubelet root (real
 * tmpfs mounts where this process can mount) stay; the node agent and its memory go. No kubelet call
 * follows the restart until the test makes one.
 */
describe('integration: a restarted driver resumes rotation without kubelet', function () {
  this.timeout(30_000);
  const clock = new ManualClock();
  const cluster = new InMemoryCluster({ clock });
  const provider = new InProcessSecretProvider();
  let sandbox: TmpfsSandbox;
  let config: DriverConfig;
  let command: PublishCommand;
  const runs: DriverRun[] = [];

  async function startDriver(): Promise<DriverRun> {
    const logger = new CollectingLogger();
    const metrics = new MemoryMetrics();
    const agent = await startNodeAgent(
      config,
      { clock, logger, metrics },
      {
        cluster: memoryClusterModule(cluster),
        files: nodeFilesModule(await chooseMountMode(true, logger), config.kubeletRoot),
        provider: givenProviderModule(provider),
      },
      'restart-test',
    );
    const run = { agent, kubelet: new CsiNodeClient(agent.csi.address), metrics, logger };
    runs.push(run);
    return run;
  }

  async function stopDriver(run: DriverRun): Promise<void> {
    run.kubelet.close();
    await run.agent.stop();
  }

  /** Moves time by `ms` and runs the rotation pass the timer starts. */
  async function advance(run: DriverRun, ms: number): Promise<void> {
    clock.advance(ms);
    await run.agent.reconciler.runDueChecks();
    await cluster.whenIdle();
  }

  const mountedPassword = (): Promise<string> => readFile(join(command.targetPath, 'db-password'), 'utf8');

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-restart-');
    config = driverConfig(
      parseFlags(DRIVER_FLAGS, [
        `--endpoint=unix://${join(sandbox.root, 'csi.sock')}`,
        '--nodeid=node-1',
        `--kubelet-root=${sandbox.kubeletRoot}`,
        '--cluster=memory',
        '--enable-secret-rotation',
        '--rotation-poll-interval=10s',
        '--rotation-jitter=0',
      ]),
    );
    cluster.create(aClassResource({ secretObjects: [{ secretName: 'app-synced', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] }] }));
    cluster.create(aPodResource({ name: 'app-0', uid: POD_UID }));
    const targetPath = sandbox.targetPath(POD_UID, 'secrets');
    await mkdir(dirname(targetPath), { recursive: true });
    command = {
      volumeId: 'csi-7e57ab1e',
      targetPath,
      readonly: true,
      volumeContext: {
        [VolumeContextKey.secretProviderClass]: 'app-secrets',
        [VolumeContextKey.podName]: 'app-0',
        [VolumeContextKey.podNamespace]: 'default',
        [VolumeContextKey.podUid]: POD_UID,
        [VolumeContextKey.serviceAccountName]: 'app',
        [VolumeContextKey.ephemeral]: 'true',
      },
      secrets: {},
    };
  });

  after(async () => {
    for (const run of runs) await stopDriver(run).catch(() => undefined);
    await sandbox?.dispose();
  });

  it('publishes with the first driver, then a second one rotates the mount from the store and accepts kubelet again', async () => {
    const first = await startDriver();
    await first.kubelet.publish(command);
    await cluster.whenIdle();
    expect(await mountedPassword()).to.equal('db-password-v1');
    await stopDriver(first);
    const mountsBefore = await sandbox.mountPoints();

    const second = await startDriver();
    const report = await second.agent.recovery;
    expect(report?.recovered.map((entry) => entry.target)).to.deep.equal([command.targetPath]);
    expect(await sandbox.mountPoints(), 'the mount stays as it was').to.deep.equal(mountsBefore);

    provider.store.rotate('db-password');
    await advance(second, 0);

    expect(await mountedPassword()).to.equal('db-password-v2');
    const synced = cluster.get('Secret', 'default', 'app-synced');
    expect(Buffer.from(synced?.data?.['password'] ?? '', 'base64').toString()).to.equal('db-password-v2');
    expect(second.metrics.count('node_publish_total'), 'kubelet calls to the second driver').to.equal(0);

    await second.kubelet.publish(command);
    expect(second.metrics.count('node_publish_total')).to.equal(1);
    const refused = await second.kubelet.publish({ ...command, volumeId: 'csi-another' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(CsiCallError).with.property('code', 'ALREADY_EXISTS');
    expect(await mountedPassword()).to.equal('db-password-v2');
  });
});
