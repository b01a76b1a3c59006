import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import type { PodStatusResource, SecretProviderClassResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { eventually } from '../contract/eventually.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Admin, CSI, json } from '../support/kube-admin.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { CliProcess, mountsUnder } from './processes.js';
import { rotateThroughControl } from './fake-provider-control.js';

const NODE = 'node-1';
const CLASS = 'app-secrets';
const SYNCED_SECRET = 'app-credentials';
const MANAGED = 'secrets-store.csi.k8s.io/managed';
const NODE_LABEL = 'internal.secrets-store.csi.k8s.io/node-name';

function classObject(namespace: string, objects: readonly string[]): SecretProviderClassResource {
  return {
    apiVersion: `${CSI.group}/v1`,
    kind: 'SecretProviderClass',
    metadata: { name: CLASS, namespace },
    spec: {
      provider: 'fake',
      parameters: { objects: objects.map((name) => `- name: ${name}\n`).join('') },
      secretObjects: [{ secretName: SYNCED_SECRET, type: 'Opaque', labels: { app: 'web' }, data: [{ objectName: 'db-password', key: 'password' }] }],
    },
  };
}

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/**
 * The production profile as real processes against a real control plane: the driver process with
 * `--cluster kubernetes`, authenticated as its own service account with only the deploy/rbac roles;
 * a fake provider process; the fake kubelet calling it over the CSI socket for a Pod that exists in
 * the API server. What the driver writes is read back from the API server.
 */
describe('e2e: driver --cluster kubernetes on a real API server', function () {
  this.timeout(120_000);
  let plane: ControlPlane | undefined;
  let sandbox: TmpfsSandbox | undefined;
  let provider: CliProcess | undefined;
  let driver: CliProcess | undefined;
  let client: CsiNodeClient | undefined;
  let kubelet: FakeKubelet;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let namespace: string;
  let pod: FakePod;
  let controlUrl: string;
  let csiSocket: string;
  let providerSocket: string;

  const podStatusName = (): string => `${pod.name}-${namespace}-${CLASS}`;
  const logs = (): string => `\ndriver stderr:\n${driver?.stderr ?? ''}\nprovider stderr:\n${provider?.stderr ?? ''}`;
  const withLogs = (error: Error): never => {
    throw new Error(`${error.message}${logs()}`);
  };


  async function readPodStatus(): Promise<PodStatusResource | undefined> {
    try {
      return (await custom.getNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasspodstatuses', name: podStatusName() })) as PodStatusResource;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async function readSecret(): Promise<{ data?: Record<string, string>; metadata: { labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string }[] } } | undefined> {
    try {
      return json(await core.readNamespacedSecret({ namespace, name: SYNCED_SECRET }));
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async function rotate(name: string): Promise<string> {
    return rotateThroughControl(controlUrl, name);
  }

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    plane = await startControlPlane(binaries);
    core = plane.adminKubeConfig().makeApiClient(CoreV1Api);
    custom = plane.adminKubeConfig().makeApiClient(CustomObjectsApi);
    const admin = new Admin(plane);
    for (const file of ['serviceaccount', 'base', 'secret-sync', 'secret-rotation', 'token-requests']) await admin.apply(`deploy/rbac/${file}.yaml`);

    namespace = await plane.createNamespace('e2e');
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    await custom.createNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasses', body: classObject(namespace, ['db-password', 'api-key']) });
    const body = {
      metadata: { name: 'app-0', namespace },
      spec: {
        nodeName: NODE,
        serviceAccountName: 'app',
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        volumes: [{ name: 'secrets-store', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: CLASS } } }],
      },
    } as V1Pod;
    const created = await core.createNamespacedPod({ namespace, body });
    await core.replaceNamespacedPodStatus({ namespace, name: 'app-0', body: { ...created, status: { ...created.status, phase: 'Running' } } });
    pod = { namespace, name: 'app-0', uid: created.metadata!.uid!, serviceAccountName: 'app', volumes: [{ name: 'secrets-store', volumeAttributes: { secretProviderClass: CLASS } }] };

    // The driver authenticates as its service account: it can do only what deploy/rbac grants.
    const token = await core.createNamespacedServiceAccountToken({
      namespace: 'kube-system',
      name: 'secrets-store-csi-driver',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    sandbox = await TmpfsSandbox.create('sscsi-k8s-');
    const kubeconfig = join(sandbox.root, 'driver.kubeconfig');
    await writeFile(kubeconfig, plane.kubeConfigWithToken(token.status!.token).exportConfig(), { mode: 0o600 });
    const providers = join(sandbox.root, 'providers');
    await mkdir(providers);
    providerSocket = join(providers, 'fake.sock');
    csiSocket = join(sandbox.root, 'csi.sock');

    provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${providerSocket}`, '--control-port', '0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    driver = CliProcess.start([
      'driver',
      '--cluster', 'kubernetes',
      '--kubeconfig', kubeconfig,
      '--endpoint', `unix://${csiSocket}`,
      '--nodeid', NODE,
      '--provider-volume', providers,
      '--additional-provider-volume-paths=',
      '--kubelet-root', sandbox.kubeletRoot,
      // Loopback and any free port: a test must not take the well-known ports of a driver on this machine.
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      '--rotation-poll-interval', '1s',
    ]);
    await eventually(() => {
      if (!driver!.running) throw new Error(`driver exited early${logs()}`);
      expect(existsSync(csiSocket), `no CSI socket yet${logs()}`).to.equal(true);
    }, 20_000, 25);
    client = new CsiNodeClient(csiSocket);
    kubelet = new FakeKubelet(client, sandbox.kubeletRoot, { nodeName: NODE });
  });

  after(async () => {
    client?.close();
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
    await plane?.stop();
  });

  it('publishes the pod volume: the objects are files on a tmpfs at the target', async () => {
    await kubelet.startPod(pod).catch(withLogs);
    const target = kubelet.targetPath(pod, 'secrets-store');
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-password-v1');
    expect(await readFile(join(target, 'api-key'), 'utf8')).to.equal('api-key-v1');
    expect(mountsUnder(sandbox!.kubeletRoot)).to.deep.equal([target]);
  });

  it('records the SecretProviderClassPodStatus in the API server, labelled with the node and owned by the pod', async () => {
    const status = (await readPodStatus())!;
    expect(status, logs()).not.to.equal(undefined);
    expect(status.metadata.labels).to.include({ [NODE_LABEL]: NODE });
    expect(status.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid }]);
    expect(status.status).to.deep.include({ podName: pod.name, secretProviderClassName: CLASS, mounted: true, targetPath: kubelet.targetPath(pod, 'secrets-store') });
    expect(status.status!.objects).to.deep.equal([
      { id: 'api-key', version: 'v1' },
      { id: 'db-password', version: 'v1' },
    ]);
  });

  it('syncs the Secret, managed and owned by the pod status (a bare pod)', async () => {
    const secret = (await readSecret())!;
    expect(secret, logs()).not.to.equal(undefined);
    expect(secret.data).to.deep.equal({ password: base64('db-password-v1') });
    expect(secret.metadata.labels).to.deep.equal({ app: 'web', [MANAGED]: 'true' });
    const status = (await readPodStatus())!;
    expect(secret.metadata.ownerReferences!.map(({ kind, name, uid }) => ({ kind, name, uid }))).to.deep.equal([
      { kind: 'SecretProviderClassPodStatus', name: podStatusName(), uid: status.metadata.uid },
    ]);
  });

  it('rotates a changed object: file, pod status, Secret and a MountRotationComplete event on the pod', async () => {
    const target = kubelet.targetPath(pod, 'secrets-store');
    expect(await rotate('db-password')).to.equal('v2');
    await eventually(async () => {
      expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-password-v2');
      expect((await readPodStatus())!.status!.objects).to.deep.equal([
        { id: 'api-key', version: 'v1' },
        { id: 'db-password', version: 'v2' },
      ]);
      expect((await readSecret())!.data).to.deep.equal({ password: base64('db-password-v2') });
      const events = (await core.listNamespacedEvent({ namespace })).items.filter((event) => event.reason === 'MountRotationComplete');
      expect(events.map((event) => event.involvedObject.uid)).to.include(pod.uid);
    }, 30_000, 100).catch(withLogs);
  });

  it('mounts an object added to the class in the API server (class watch)', async () => {
    const target = kubelet.targetPath(pod, 'secrets-store');
    const current = (await custom.getNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasses', name: CLASS })) as SecretProviderClassResource;
    const next = classObject(namespace, ['db-password', 'api-key', 'tls-bundle']);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    await custom.replaceNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasses', name: CLASS, body: next });
    await eventually(async () => expect(await readFile(join(target, 'tls-bundle'), 'utf8')).to.equal('tls-bundle-v1'), 30_000, 100).catch(withLogs);
  });

  it('unpublishes, leaving the pod status to the garbage collector, which takes it and the Secret it owns with the pod', async () => {
    const target = kubelet.targetPath(pod, 'secrets-store');
    await kubelet.deletePod(pod.uid).catch(withLogs);
    expect(existsSync(target)).to.equal(false);
    expect(mountsUnder(sandbox!.kubeletRoot)).to.deep.equal([]);
    expect((await readPodStatus())?.status?.mounted).to.equal(true);
    await core.deleteNamespacedPod({ namespace, name: pod.name, gracePeriodSeconds: 0 });
    await eventually(async () => expect(await readPodStatus()).to.equal(undefined), 60_000, 250).catch(withLogs);
    await eventually(async () => expect(await readSecret()).to.equal(undefined), 60_000, 250).catch(withLogs);
  });

  it('stops on SIGTERM with exit code 0, leaving no socket and no mount', async () => {
    client?.close();
    client = undefined;
    const driverExit = await driver!.stop('SIGTERM', 15_000);
    const providerExit = await provider!.stop('SIGTERM', 15_000);
    expect(driverExit, logs()).to.deep.equal({ code: 0, signal: null });
    expect(providerExit, logs()).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(csiSocket)).to.equal(false);
    expect(existsSync(providerSocket)).to.equal(false);
    expect(mountsUnder(sandbox!.root)).to.deep.equal([]);
    expect(driver!.stderr).not.to.match(/forbidden/i);
  });
});
