import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import { eventually } from '../contract/eventually.js';
import { aClassResource } from '../support/cluster-builders.js';
import { fileNameAt, parseVersion, versionedPayload } from '../support/torn-payload.js';
import { startTornReader, type RunningReader } from '../support/torn-read-stress.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { rotateAllThroughControl } from './fake-provider-control.js';
import { CliProcess, sleep } from './processes.js';

const FILES = 10;
const KILLS = 20;
const INTERVAL_MS = 300;
const CLASS = 'chaos-secrets';
/** Between two rounds of a reader: thousands of reads a second, and CPU left for ~40 driver starts. */
const READER_PAUSE_MS = 1;

const PODS: readonly FakePod[] = [0, 1].map((i) => ({
  namespace: 'default',
  name: `chaos-${i}`,
  uid: `c4a05000-0000-4000-8000-00000000000${i}`,
  serviceAccountName: 'app',
  volumes: [{ name: 'secrets', volumeAttributes: { secretProviderClass: CLASS } }],
}));

/** The class: the ten objects of the torn-read payload, from the fake provider. */
function classManifest(): string {
  const objects = Array.from({ length: FILES }, (_, i) => `- name: ${fileNameAt(i)}`).join('\n');
  return stringify(aClassResource({ name: CLASS, parameters: { objects } }));
}

/**
 * The guarantee of torn-read.test.ts, with the driver itself as the writer and killed at random: the
 * driver process (`--cluster memory`, real tmpfs) rotates a 10-file payload of two pods every 300 ms
 * while the store changes every 100 ms, and is SIGKILLed at a random moment, 20 times; after each kill
 * a new driver starts and the fake kubelet publishes the pods again (as kubelet's requiresRepublish does),
 * then a store change must reach every mount through rotation alone. Reader processes read every file of
 * both mounts in a loop the whole time: no mixed version, no missing or torn file, no version going back.
 */
describe('e2e chaos: the driver SIGKILLed during rotation', function () {
  this.timeout(600_000);
  let sandbox: TmpfsSandbox;
  let provider: CliProcess | undefined;
  let controlUrl: string;
  let driver: CliProcess | undefined;
  let client: CsiNodeClient | undefined;
  let readers: RunningReader[] = [];
  let version = 1;
  const stopFile = (): string => join(sandbox.root, 'stop-readers');
  const target = (pod: FakePod): string => join(sandbox.kubeletRoot, 'pods', pod.uid, 'volumes', 'kubernetes.io~csi', 'secrets', 'mount');

  async function setStoreVersion(next: number): Promise<void> {
    const objects = versionedPayload(next, FILES).map((file) => ({ name: file.path, contents: new TextDecoder().decode(file.contents) }));
    await rotateAllThroughControl(controlUrl, objects);
  }

  /** A new driver process, and every pod published to it as kubelet republishes them. */
  async function startDriverAndRepublish(): Promise<void> {
    const csiSocket = join(sandbox.root, 'csi.sock');
    driver = CliProcess.start([
      'driver',
      '--cluster=memory',
      `--manifests=${join(sandbox.root, 'manifests')}`,
      `--endpoint=unix://${csiSocket}`,
      '--nodeid=node-1',
      `--provider-volume=${join(sandbox.root, 'providers')}`,
      '--additional-provider-volume-paths=',
      `--kubelet-root=${sandbox.kubeletRoot}`,
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      `--rotation-poll-interval=${INTERVAL_MS}ms`,
      '--rotation-jitter=0',
    ]);
    await driver.waitForStderr(/driver started/, 30_000);
    client?.close();
    client = new CsiNodeClient(csiSocket);
    const kubelet = new FakeKubelet(client, sandbox.kubeletRoot);
    for (const pod of PODS) await kubelet.startPod(pod);
  }

  /** The version every file of the pod's mount holds, read through the user-visible names. */
  function mountedVersions(pod: FakePod): (number | undefined)[] {
    return Array.from({ length: FILES }, (_, i) => parseVersion(readFileSync(join(target(pod), fileNameAt(i))), fileNameAt(i)));
  }

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-chaos-');
    await mkdir(join(sandbox.root, 'manifests'));
    await writeFile(join(sandbox.root, 'manifests', 'class.yaml'), classManifest());
    provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${join(sandbox.root, 'providers', 'fake.sock')}`, '--control-port', '0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    await setStoreVersion(version);
    await startDriverAndRepublish();
    readers = PODS.map((pod) => startTornReader(target(pod), FILES, stopFile(), READER_PAUSE_MS));
    await Promise.all(readers.map((reader) => reader.ready));
  });

  after(async () => {
    if (sandbox && !existsSync(stopFile())) await writeFile(stopFile(), 'stop');
    for (const reader of readers) if (reader.process.exitCode === null) reader.process.kill();
    client?.close();
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
  });

  it(`shows readers no torn, missing or mixed file across ${KILLS} kills, and rotation resumes after each restart`, async () => {
    for (let kill = 1; kill <= KILLS; kill++) {
      // The store moves on every 100 ms while the driver rotates; the kill comes at a random moment.
      const killAt = Date.now() + Math.floor(Math.random() * 4 * INTERVAL_MS);
      while (Date.now() < killAt) {
        await setStoreVersion(++version);
        await sleep(Math.min(100, Math.max(0, killAt - Date.now())));
      }
      const exit = await driver!.stop('SIGKILL');
      expect(exit.signal, `kill ${kill}`).to.equal('SIGKILL');

      await startDriverAndRepublish();
      await setStoreVersion(++version);
      const expected = version;
      await eventually(
        () => {
          for (const pod of PODS) expect(mountedVersions(pod), `${pod.name} after restart ${kill}`).to.deep.equal(Array(FILES).fill(expected));
        },
        20 * INTERVAL_MS + 10_000,
        50,
      );
    }

    await writeFile(stopFile(), 'stop');
    const reports = await Promise.all(readers.map((reader) => reader.report));
    for (const report of reports) {
      expect(report.otherErrors, 'unexpected reader errors').to.deep.equal([]);
      expect(report, 'a reader saw a broken state').to.deep.include({ mixedSnapshots: 0, missingStable: 0, tornFiles: 0, backwards: 0 });
      expect(report.snapshots, 'snapshots read').to.be.greaterThan(KILLS);
      expect(report.versionsSeen, 'the readers overlapped with the rotations').to.be.greaterThan(KILLS);
    }
  });
});
