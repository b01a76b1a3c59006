import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { stablePodUid } from '../../src/adapters/memory-cluster/manifests.js';
import { eventually } from '../contract/eventually.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { readStateThroughControl, rotateThroughControl } from './fake-provider-control.js';
import { manifestPodTarget, memoryDriverArgs, readStateObjects, type MemoryProfilePaths, type StateObject } from './memory-profile.js';
import { CliProcess, mountsUnder } from './processes.js';

const NODE = 'node-1';

/** The class; its own rotation interval comes from an annotation, so the test can make periodic checks rare. */
const classYaml = (interval: string): string => `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: app-secrets
  namespace: default
  annotations:
    secrets-store.csi.k8s.io/rotation-poll-interval: "${interval}"
spec:
  provider: fake
  parameters:
    objects: db-password
`;

/** A Pod of this node whose container mounts the driver's inline volume (kubelet skips a volume no container mounts). */
const podYaml = (name: string, options: { className?: string; rotateRequestedAt?: string } = {}): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
${options.rotateRequestedAt ? `  annotations:\n    secrets-store.csi.k8s.io/rotate-requested-at: "${options.rotateRequestedAt}"\n` : ''}spec:
  nodeName: ${NODE}
  containers:
  - name: app
    image: app
    volumeMounts:
    - {name: secrets, mountPath: /mnt/secrets, readOnly: true}
  volumes:
  - name: secrets
    csi:
      driver: secrets-store.csi.k8s.io
      readOnly: true
      volumeAttributes: {secretProviderClass: ${options.className ?? 'app-secrets'}}
status:
  phase: Running
`;

/**
 * `driver --cluster memory` with its built-in kubelet, driven only through manifest edits, as a provider
 * author would: add a Pod -> its files; a new version in the store -> rotated; annotate the Pod -> rotated
 * on demand; remove the Pod -> unpublished; restart the driver -> its mounts recovered and still rotated,
 * and the volume of a Pod removed while it was down unpublished.
 * Nothing calls the CSI socket but the driver's own kubelet.
 */
describe('e2e: the standalone agent driven by manifest edits (built-in kubelet)', function () {
  this.timeout(180_000);
  let sandbox: TmpfsSandbox;
  let provider: CliProcess | undefined;
  let driver: CliProcess | undefined;
  let controlUrl: string;
  let paths: MemoryProfilePaths;

  const logs = (): string => `\ndriver stderr:\n${driver?.stderr ?? ''}`;
  const target = (pod: string): string => manifestPodTarget(paths.kubeletRoot, pod, 'secrets');
  const contents = (pod: string): Promise<string> => readFile(join(target(pod), 'db-password'), 'utf8');

  const stateObjects = (): Promise<StateObject[]> => readStateObjects(paths.stateFile);

  async function startDriver(): Promise<CliProcess> {
    const process = CliProcess.start(memoryDriverArgs(paths, ['--rotation-poll-interval=1h', '--min-rotation-poll-interval=1s']));
    await process.waitForStderr(/built-in kubelet started/, 30_000);
    return process;
  }

  /** Waits (up to a deadline a loaded machine meets) for a condition the driver brings about. */
  const until = (check: () => Promise<unknown>): Promise<unknown> =>
    eventually(check, 60_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-kubelet-');
    paths = {
      manifests: join(sandbox.root, 'manifests'),
      stateFile: join(sandbox.root, 'state.yaml'),
      kubeletRoot: sandbox.kubeletRoot,
      providers: join(sandbox.root, 'providers'),
      csiSocket: join(sandbox.root, 'csi.sock'),
    };
    await mkdir(paths.manifests);
    await writeFile(join(paths.manifests, 'class.yaml'), classYaml('2s'));
    provider = CliProcess.start(['fake-provider', `--endpoint=unix://${join(paths.providers, 'fake.sock')}`, '--control-port=0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;
    driver = await startDriver();
  });

  after(async () => {
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
  });

  it('add a Pod to the manifests: its volume is published and its files are there', async () => {
    await writeFile(join(paths.manifests, 'app-0.yaml'), podYaml('app-0'));
    await until(async () => expect(await contents('app-0')).to.equal('db-password-v1'));
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([target('app-0')]);
    const volumeData = JSON.parse(await readFile(join(target('app-0'), '..', 'vol_data.json'), 'utf8')) as Record<string, string>;
    expect(volumeData).to.include({ driverName: 'secrets-store.csi.k8s.io', nodeName: NODE, specVolID: 'secrets', volumeLifecycleMode: 'Ephemeral' });
    const statuses = (await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus');
    expect(statuses.map((status) => status.metadata.name)).to.deep.equal(['app-0-default-app-secrets']);
  });

  it('a new version in the store: the mounted file rotates (the class checks every 2s)', async () => {
    expect(await rotateThroughControl(controlUrl, 'db-password')).to.equal('v2');
    await until(async () => expect(await contents('app-0')).to.equal('db-password-v2'));
  });

  it('annotate the Pod with rotate-requested-at: rotated on demand, not on schedule (the class now checks hourly)', async () => {
    const callsBefore = (await readStateThroughControl(controlUrl)).mountCount;
    await writeFile(join(paths.manifests, 'class.yaml'), classYaml('1h'));
    // A class change is checked at once; that check must be over before the store changes.
    await until(async () => expect((await readStateThroughControl(controlUrl)).mountCount).to.be.greaterThan(callsBefore));
    expect(await rotateThroughControl(controlUrl, 'db-password')).to.equal('v3');
    await writeFile(join(paths.manifests, 'app-0.yaml'), podYaml('app-0', { rotateRequestedAt: '1' }));
    await until(async () => expect(await contents('app-0')).to.equal('db-password-v3'));
    const requested = driver!.stderr.indexOf('rotation requested on the pod pod=default/app-0 value=1');
    const rotated = driver!.stderr.indexOf('changes="db-password v2 -> v3"');
    expect(requested, logs()).to.be.greaterThan(-1);
    expect(rotated, 'the rotation came after the request').to.be.greaterThan(requested);
  });

  it('a Pod whose class does not exist: kubelet\'s FailedMount event is in the state file, nothing is mounted', async () => {
    await writeFile(join(paths.manifests, 'broken.yaml'), podYaml('broken', { className: 'no-such-class' }));
    await until(async () => {
      const failed = (await stateObjects()).filter((object) => object.kind === 'Event' && object.reason === 'FailedMount');
      expect(failed.map((event) => event.involvedObject?.name)).to.include('broken');
    });
    expect(mountsUnder(target('broken'))).to.deep.equal([]);
    await rm(join(paths.manifests, 'broken.yaml'));
  });

  it('remove the Pod from the manifests: its volume is unpublished and its pod status goes', async () => {
    await rm(join(paths.manifests, 'app-0.yaml'));
    await until(async () => {
      expect(existsSync(target('app-0'))).to.equal(false);
      const kinds = (await stateObjects()).map((object) => `${object.kind} ${object.metadata.name}`);
      expect(kinds.filter((kind) => !kind.startsWith('Event '))).to.deep.equal([]);
    });
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([]);
  });

  it('restart the driver: it takes its mounts back from the state file and rotates them on the next request', async () => {
    await writeFile(join(paths.manifests, 'app-1.yaml'), podYaml('app-1', { rotateRequestedAt: '1' }));
    await until(async () => expect(await contents('app-1')).to.equal('db-password-v3'));
    const killed = await driver!.stop('SIGKILL', 15_000);
    expect(killed.signal).to.equal('SIGKILL');
    expect(mountsUnder(paths.kubeletRoot), 'the mount outlives the driver').to.deep.equal([target('app-1')]);

    driver = await startDriver();
    await driver.waitForStderr(/restart recovery done recovered=1 /, 30_000);
    expect(await rotateThroughControl(controlUrl, 'db-password')).to.equal('v4');
    await writeFile(join(paths.manifests, 'app-1.yaml'), podYaml('app-1', { rotateRequestedAt: '2' }));
    await until(async () => expect(await contents('app-1')).to.equal('db-password-v4'));
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([target('app-1')]);
  });

  it('stops on SIGTERM with exit 0 and leaves the Pod\'s volume mounted for the next start', async () => {
    expect(await driver!.stop('SIGTERM', 15_000)).to.deep.equal({ code: 0, signal: null });
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([target('app-1')]);
  });

  it('a Pod removed while the driver was down: the next start unpublishes its volume, as kubelet cleans up orphans', async () => {
    await rm(join(paths.manifests, 'app-1.yaml'));
    driver = await startDriver();
    await until(async () => {
      expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([]);
      expect(existsSync(join(paths.kubeletRoot, 'pods', stablePodUid('default', 'app-1')))).to.equal(false);
      const statuses = (await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus');
      expect(statuses).to.deep.equal([]);
    });
    expect(driver.stderr).to.match(/kubelet: unpublished the volume of a pod that is gone pod=default\/app-1/);
    expect(await driver.stop('SIGTERM', 15_000)).to.deep.equal({ code: 0, signal: null });
  });
});
