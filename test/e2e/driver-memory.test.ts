import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { CsiCallError, CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, volumeId, type FakePod } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import { eventually } from '../contract/eventually.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { CliProcess, mountsUnder } from './processes.js';
import { rotateThroughControl } from './fake-provider-control.js';

const NODE = 'node-1';
const CLASS = 'app-secrets';
const SYNCED_SECRET = 'app-credentials';
const REPLICA_SET = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-7d4b9c', uid: '6b7a51d2-0d7e-4a57-9d0e-3c1f1f0a0001', controller: true };
const POD: FakePod = {
  namespace: 'default',
  name: 'app-7d4b9c-x2x9q',
  // The in-memory cluster assigns Pod uids itself; kubelet's uid only has to be consistent on its side.
  uid: '1f0e3c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
  serviceAccountName: 'app',
  volumes: [{ name: 'secrets-store', volumeAttributes: { secretProviderClass: CLASS } }],
};
const POD_STATUS = `${POD.name}-${POD.namespace}-${CLASS}`;

/** The class: provider `fake`, objects in its own `objects` parameter, one synced Secret. */
function classManifest(objects: readonly string[]): string {
  return `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: ${CLASS}
  namespace: default
spec:
  provider: fake
  parameters:
    objects: |
${objects.map((name) => `      - name: ${name}`).join('\n')}
  secretObjects:
    - secretName: ${SYNCED_SECRET}
      type: Opaque
      labels:
        app: web
      data:
        - objectName: db-password
          key: password
`;
}

const POD_MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: ${POD.name}
  namespace: default
  ownerReferences:
    - apiVersion: ${REPLICA_SET.apiVersion}
      kind: ${REPLICA_SET.kind}
      name: ${REPLICA_SET.name}
      uid: ${REPLICA_SET.uid}
      controller: true
      blockOwnerDeletion: true
spec:
  nodeName: ${NODE}
  serviceAccountName: ${POD.serviceAccountName}
  containers:
    - name: app
      image: busybox
  volumes:
    - name: secrets-store
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes:
          secretProviderClass: ${CLASS}
status:
  phase: Running
`;

interface KubeObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: Record<string, unknown>[] };
  [field: string]: unknown;
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/**
 * The `driver --cluster memory` profile as real processes, driven exactly as kubelet drives it: a
 * fake provider process, the driver process with manifests and a state file, and the fake kubelet
 * calling NodePublishVolume / NodeUnpublishVolume over the driver's real CSI socket.
 */
describe('e2e: driver --cluster memory', function () {
  this.timeout(60_000);
  let sandbox: TmpfsSandbox;
  let provider: CliProcess | undefined;
  let driver: CliProcess | undefined;
  let client: CsiNodeClient | undefined;
  let kubelet: FakeKubelet;
  let controlUrl: string;
  let paths: { manifests: string; providers: string; providerSocket: string; csiSocket: string; stateFile: string; kubeletRoot: string };

  async function stateObjects(): Promise<KubeObject[]> {
    const text = await readFile(paths.stateFile, 'utf8');
    return parseAllDocuments(text).map((document) => {
      expect(document.errors, text).to.deep.equal([]);
      return document.toJS() as KubeObject;
    }).filter((object) => object !== null);
  }

  async function stateObject(kind: string, name: string): Promise<KubeObject | undefined> {
    return (await stateObjects()).find((object) => object.kind === kind && object.metadata.name === name);
  }

  async function rotate(name: string): Promise<string> {
    return rotateThroughControl(controlUrl, name);
  }

  async function callError(call: Promise<unknown>): Promise<CsiCallError> {
    try {
      await call;
    } catch (error) {
      expect(error).to.be.instanceOf(CsiCallError);
      return error as CsiCallError;
    }
    expect.fail('expected the CSI call to fail');
  }

  function logs(): string {
    return `\ndriver stderr:\n${driver?.stderr ?? ''}\nprovider stderr:\n${provider?.stderr ?? ''}`;
  }

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-drv-');
    const root = sandbox.root;
    paths = {
      manifests: join(root, 'manifests'),
      providers: join(root, 'providers'),
      providerSocket: join(root, 'providers', 'fake.sock'),
      csiSocket: join(root, 'csi.sock'),
      stateFile: join(root, 'state.yaml'),
      kubeletRoot: sandbox.kubeletRoot,
    };
    await mkdir(paths.manifests);
    await writeFile(join(paths.manifests, 'class.yaml'), classManifest(['db-password', 'api-key']));
    await writeFile(join(paths.manifests, 'pod.yaml'), POD_MANIFEST);

    provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${paths.providerSocket}`, '--control-port', '0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;

    driver = CliProcess.start([
      'driver',
      '--cluster', 'memory',
      '--manifests', paths.manifests,
      '--state-file', paths.stateFile,
      '--endpoint', `unix://${paths.csiSocket}`,
      '--nodeid', NODE,
      '--provider-volume', paths.providers,
      '--additional-provider-volume-paths=',
      '--kubelet-root', paths.kubeletRoot,
      // Loopback and any free port: a test must not take the well-known ports of a driver on this machine.
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      '--rotation-poll-interval', '1s',
    ]);
    await eventually(() => {
      if (!driver!.running) throw new Error(`driver exited early${logs()}`);
      expect(existsSync(paths.csiSocket), `no CSI socket yet${logs()}`).to.equal(true);
    }, 20_000, 25);
    client = new CsiNodeClient(paths.csiSocket);
    kubelet = new FakeKubelet(client, paths.kubeletRoot, { nodeName: NODE });
  });

  after(async () => {
    client?.close();
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
  });

  it('publishes the pod volume: the objects are files on a tmpfs at the target', async () => {
    await kubelet.startPod(POD);
    const target = kubelet.targetPath(POD, 'secrets-store');
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-password-v1');
    expect(await readFile(join(target, 'api-key'), 'utf8')).to.equal('api-key-v1');
    // kubelet's atomic layout: user-visible links into ..data.
    expect((await lstat(join(target, 'db-password'))).isSymbolicLink()).to.equal(true);
    expect(await readlink(join(target, 'db-password'))).to.equal('..data/db-password');
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([target]);
  });

  it('records the pod status and the synced Secret (owned by the ReplicaSet) in the state file', async () => {
    const target = kubelet.targetPath(POD, 'secrets-store');
    const status = await eventually(async () => {
      const found = await stateObject('SecretProviderClassPodStatus', POD_STATUS);
      expect(found, 'pod status in the state file').not.to.equal(undefined);
      return found!;
    }, 10_000, 50);
    expect(status.metadata.namespace).to.equal('default');
    expect(status.metadata.labels).to.include({ 'internal.secrets-store.csi.k8s.io/node-name': NODE });
    expect(status.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'Pod', name: POD.name, uid: POD.uid }]);
    expect(status['status']).to.deep.include({ podName: POD.name, secretProviderClassName: CLASS, mounted: true, targetPath: target });
    expect((status['status'] as { objects: unknown }).objects).to.deep.equal([
      { id: 'api-key', version: 'v1' },
      { id: 'db-password', version: 'v1' },
    ]);

    const secret = await eventually(async () => {
      const found = await stateObject('Secret', SYNCED_SECRET);
      expect(found, 'synced Secret in the state file').not.to.equal(undefined);
      return found!;
    }, 10_000, 50);
    expect(secret['type']).to.equal('Opaque');
    expect(secret['data']).to.deep.equal({ password: base64('db-password-v1') });
    expect(secret.metadata.labels).to.deep.equal({ app: 'web', 'secrets-store.csi.k8s.io/managed': 'true' });
    expect(secret.metadata.ownerReferences).to.have.length(1);
    expect(secret.metadata.ownerReferences![0]).to.deep.include({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: REPLICA_SET.name, uid: REPLICA_SET.uid });
  });

  it('rotates a changed object: the file, the pod status version and the Secret follow, with a MountRotationComplete event', async () => {
    const target = kubelet.targetPath(POD, 'secrets-store');
    expect(await rotate('db-password')).to.equal('v2');
    await eventually(async () => {
      expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-password-v2');
      const objects = await stateObjects();
      const status = objects.find((object) => object.kind === 'SecretProviderClassPodStatus' && object.metadata.name === POD_STATUS);
      expect((status?.['status'] as { objects?: unknown } | undefined)?.objects).to.deep.equal([
        { id: 'api-key', version: 'v1' },
        { id: 'db-password', version: 'v2' },
      ]);
      const secret = objects.find((object) => object.kind === 'Secret' && object.metadata.name === SYNCED_SECRET);
      expect(secret?.['data']).to.deep.equal({ password: base64('db-password-v2') });
      const events = objects.filter((object) => object.kind === 'Event' && object['reason'] === 'MountRotationComplete');
      expect(events.map((event) => (event['involvedObject'] as { name: string }).name)).to.include(POD.name);
    }, 20_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });
    // The untouched object stays as it was.
    expect(await readFile(join(target, 'api-key'), 'utf8')).to.equal('api-key-v1');
  });

  it('mounts an object added to the class by editing its manifest', async () => {
    const target = kubelet.targetPath(POD, 'secrets-store');
    await writeFile(join(paths.manifests, 'class.yaml'), classManifest(['db-password', 'api-key', 'tls-bundle']));
    await eventually(async () => {
      expect(await readFile(join(target, 'tls-bundle'), 'utf8')).to.equal('tls-bundle-v1');
    }, 20_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-password-v2');
  });

  it('answers NOT_FOUND naming the class for a publish with an unknown class, leaving nothing mounted', async () => {
    const pod: FakePod = { ...POD, name: 'stray', uid: '2a2a2a2a-0000-4000-8000-000000000002', volumes: [{ name: 'v', volumeAttributes: { secretProviderClass: 'no-such-class' } }] };
    const error = await callError(kubelet.startPod(pod));
    expect(error.code).to.equal('NOT_FOUND');
    expect(error.details).to.contain('no-such-class');
    expect(mountsUnder(kubelet.targetPath(pod, 'v'))).to.deep.equal([]);
    await kubelet.deletePod(pod.uid);
  });

  it('answers INVALID_ARGUMENT for a publish with readonly false', async () => {
    const pod: FakePod = { ...POD, name: 'writer', uid: '3b3b3b3b-0000-4000-8000-000000000003', volumes: [{ ...POD.volumes[0]!, readOnly: false }] };
    const error = await callError(kubelet.startPod(pod));
    expect(error.code).to.equal('INVALID_ARGUMENT');
    expect(error.details).to.contain('readonly');
    expect(mountsUnder(kubelet.targetPath(pod, 'secrets-store'))).to.deep.equal([]);
    await kubelet.deletePod(pod.uid);
  });

  it('unpublishes: the target is unmounted and gone; the pod status stays for the garbage collector, as upstream leaves it', async () => {
    const target = kubelet.targetPath(POD, 'secrets-store');
    await client!.unpublish({ volumeId: volumeId(POD.uid, 'secrets-store'), targetPath: target });
    expect(existsSync(target)).to.equal(false);
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([]);
    expect(await stateObject('SecretProviderClassPodStatus', POD_STATUS)).to.not.equal(undefined);
    // What kubelet does next (a second unpublish, which must be a no-op, then removing the volume dir).
    await kubelet.deletePod(POD.uid);
  });

  it('stops on SIGTERM with exit code 0, leaving no socket and no mount', async () => {
    client?.close();
    client = undefined;
    const driverExit = await driver!.stop('SIGTERM', 15_000);
    const providerExit = await provider!.stop('SIGTERM', 15_000);
    expect(driverExit, logs()).to.deep.equal({ code: 0, signal: null });
    expect(providerExit, logs()).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(paths.csiSocket)).to.equal(false);
    expect(existsSync(paths.providerSocket)).to.equal(false);
    expect(mountsUnder(sandbox.root)).to.deep.equal([]);
  });
});
