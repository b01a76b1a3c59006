import { expect } from 'chai';
import { VolumeMounter } from '../../../src/ports/volume-mounter.js';
import { MANAGED_LABEL } from '../../../src/domain/secret-sync-plan.js';
import { FILE_MODE_ANNOTATION } from '../../../src/domain/volume-ownership.js';
import { NODE_NAME_LABEL } from '../../../src/domain/pod-status.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { aSyncedPassword, CLASS_NAME, DriverHarness, NAMESPACE, NODE_NAME, objectsParameter } from '../../support/driver-harness.js';
import { CSI_API_VERSION } from '../../support/cluster-builders.js';

const replicaSet = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-7d4f9', uid: 'rs-uid-1' };

describe('Publishing a volume for the first time', () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  it('mounts every object of the class as a file with the mode the provider gives, 0644 when unset', async () => {
    harness.addClass({
      parameters: { objects: objectsParameter('db-password', { name: 'api-key', mode: 0o400 }, { name: 'ca', path: 'certs/ca.pem' }) },
    });
    const pod = harness.addPod();

    await harness.publish(pod);

    const files = await harness.mountedFiles(pod.target);
    expect(files.map(({ path, mode, text }) => ({ path, mode, text }))).to.deep.equal([
      { path: 'api-key', mode: 0o400, text: 'api-key-v1' },
      { path: 'certs/ca.pem', mode: 0o644, text: 'ca-v1' },
      { path: 'db-password', mode: 0o644, text: 'db-password-v1' },
    ]);
    expect(harness.dataDir(pod.target)).to.match(/^\.\.\d{4}_/);
  });

  it('asks the provider with the class parameters, the pod attributes, permission "420" and no current versions', async () => {
    harness.addClass();
    const pod = harness.addPod();

    await harness.publish(pod);

    const [call] = harness.fake.requests;
    expect(call?.providerName).to.equal('fake');
    expect(call?.request.permission).to.equal('420');
    expect(call?.request.targetPath).to.equal(pod.target);
    expect(call?.request.currentObjectVersion).to.deep.equal([]);
    expect(JSON.parse(call!.request.attributes)).to.include({ objects: 'db-password', 'csi.storage.k8s.io/pod.uid': pod.uid });
  });

  it('records a pod status object <pod>-<namespace>-<class> labelled with the node and owned by the Pod, objects sorted by id', async () => {
    harness.addClass({ parameters: { objects: objectsParameter('zeta', 'alpha', 'mid') } });
    const pod = harness.addPod({ name: 'web-0' });

    await harness.publish(pod);

    const status = harness.podStatus(pod);
    expect(status?.metadata.name).to.equal(`web-0-${NAMESPACE}-${CLASS_NAME}`);
    expect(status?.metadata.labels).to.deep.equal({ [NODE_NAME_LABEL]: NODE_NAME });
    expect(status?.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: pod.uid }]);
    expect(status?.status).to.deep.equal({
      podName: 'web-0',
      secretProviderClassName: CLASS_NAME,
      mounted: true,
      targetPath: pod.target,
      objects: [
        { id: 'alpha', version: 'v1' },
        { id: 'mid', version: 'v1' },
        { id: 'zeta', version: 'v1' },
      ],
    });
  });

  it('creates the synced Secret with the managed label, the class labels and annotations, its type and the file bytes', async () => {
    harness.addClass({
      parameters: { objects: objectsParameter('db-password', 'api-key') },
      secretObjects: [
        {
          ...aSyncedPassword(),
          labels: { app: 'web' },
          annotations: { team: 'payments' },
          data: [...aSyncedPassword().data, { objectName: 'api-key', key: 'key' }],
        },
      ],
    });
    const pod = harness.addPod();

    await harness.publish(pod);

    const secret = harness.secret('app-synced');
    expect(secret?.type).to.equal('Opaque');
    expect(secret?.metadata.labels).to.deep.equal({ app: 'web', [MANAGED_LABEL]: 'true' });
    expect(secret?.metadata.annotations).to.deep.equal({ team: 'payments' });
    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1', key: 'api-key-v1' });
  });

  it('makes the pod status object the owner of the synced Secret of a bare pod', async () => {
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    const pod = harness.addPod();

    await harness.publish(pod);

    const status = harness.podStatus(pod)!;
    expect(harness.secret('app-synced')?.metadata.ownerReferences).to.deep.equal([
      { apiVersion: CSI_API_VERSION, kind: 'SecretProviderClassPodStatus', name: status.metadata.name, uid: status.metadata.uid },
    ]);
  });

  it("makes the pod's own owners (its ReplicaSet) the owners of the synced Secret", async () => {
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    const pod = harness.addPod({ ownerReferences: [{ ...replicaSet, controller: true }] });

    await harness.publish(pod);

    const owners = harness.secret('app-synced')?.metadata.ownerReferences ?? [];
    expect(owners.map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid }))).to.deep.equal([replicaSet]);
  });

  it('counts node_publish_total for the provider and no publish error', async () => {
    harness.addClass();
    const pod = harness.addPod();

    await harness.publish(pod);

    expect(harness.metrics.count('node_publish_total', { provider: 'fake', os_type: 'linux' })).to.equal(1);
    expect(harness.metrics.count('node_publish_error_total')).to.equal(0);
  });

  it('registers the binding for rotation with its first check one interval away', async () => {
    harness.addClass();
    const pod = harness.addPod();

    await harness.publish(pod);

    const [entry] = harness.registry.all();
    expect(entry?.binding.request.target.path).to.equal(pod.target);
    expect(entry?.binding.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
    expect(entry?.schedule.nextDueAt).to.equal(harness.clock.now() + harness.rotation.intervalMs);
  });

  it('never writes the secret values or the nodePublishSecretRef values into logs or events', async () => {
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    const pod = harness.addPod();

    await harness.publish(pod, CLASS_NAME, { secrets: { clientSecret: 'node-publish-secret-value' } });
    harness.store.rotate('db-password', 'rotated-secret-value');
    await harness.advance(harness.rotation.intervalMs);

    expect(harness.logger.lines).to.not.be.empty;
    expect(harness.events('MountRotationComplete')).to.have.length(1);
    expect(harness.leakedSecrets()).to.deep.equal([]);
  });

  it('mounts the volume before it calls the provider, so a provider that writes the files itself writes them into the volume', async () => {
    harness.addClass();
    const pod = harness.addPod();
    const held = harness.provider.holdNext();
    const publishing = harness.publish(pod);
    await held.entered;
    const mountedDuringCall = await harness.container.get<VolumeMounter>(VolumeMounter).isMounted(pod.target);
    held.release();
    await publishing;
    expect(mountedDuringCall).to.equal(true);
  });

  describe("files' modes and group", () => {
    const modes = async (target: string) => Object.fromEntries((await harness.mountedFiles(target)).map(({ path, mode }) => [path, mode]));
    const parameters = { objects: objectsParameter('db-password', { name: 'api-key', mode: 0o600 }) };

    it("gives files the class's file-mode where the provider sets none, and tells the provider so; the provider's own modes stay", async () => {
      harness.addClass({ parameters, annotations: { [FILE_MODE_ANNOTATION]: '0440' } });
      const pod = harness.addPod();
      await harness.publish(pod);
      expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o440 });
      expect(harness.fake.requests[0]!.request.permission).to.equal(String(0o440));
    });

    it('with a mount group, files default to 0640 and belong to the group, also after a rotation', async () => {
      harness.addClass({ parameters });
      const pod = harness.addPod();
      await harness.publish(pod, undefined, { volumeMountGroup: '2000' });
      const groups = () => ['db-password', 'api-key'].map((name) => harness.volume.statSync(`${pod.target}/${name}`).gid);
      expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o640 });
      expect(groups()).to.deep.equal([2000, 2000]);
      expect(harness.volume.statSync(pod.target).gid).to.equal(2000);

      harness.store.rotate('db-password');
      await harness.advance(harness.rotation.intervalMs);
      expect((await harness.mountedText(pod.target))['db-password']).to.equal('db-password-v2');
      expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o640 });
      expect(groups()).to.deep.equal([2000, 2000]);
    });

    it('refuses a class whose file-mode is not an octal mode, mounting nothing', async () => {
      harness.addClass({ parameters, annotations: { [FILE_MODE_ANNOTATION]: 'rw-r-----' } });
      const pod = harness.addPod();
      const error = await harness.publish(pod).then(() => undefined, (caught: unknown) => caught);
      expect(error).to.have.property('code', 'InvalidClass');
      expect(harness.exists(pod.target)).to.equal(false);
    });
  });
});
