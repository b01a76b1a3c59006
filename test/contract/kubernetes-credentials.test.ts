import { AuthenticationV1Api, StorageV1Api, type V1CSIDriver } from '@kubernetes/client-node';
import { expect } from 'chai';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesPodSource } from '../../src/adapters/kubernetes/kubernetes-pod-source.js';
import { KubernetesSecretSink } from '../../src/adapters/kubernetes/kubernetes-secret-sink.js';
import { KubernetesTokenAudiences } from '../../src/adapters/kubernetes/kubernetes-token-audiences.js';
import { KubernetesTokenSource } from '../../src/adapters/kubernetes/kubernetes-token-source.js';
import { RefreshCredentials } from '../../src/application/refresh-credentials.js';
import { parseVolumeRequest } from '../../src/domain/volume-binding.js';
import { aPublishCommand, KUBELET_ROOT } from '../support/builders.js';
import { aPodResource } from '../support/cluster-builders.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { CollectingLogger } from '../support/driver-harness.js';
import { Admin } from '../support/kube-admin.js';
import { eventually } from './eventually.js';
import { tokenSourceContract } from './token-source.contract.js';

const NODE = 'node-1';
/** The name deploy/csidriver.yaml and the chart give the CSIDriver (the token-requests role names it). */
const DRIVER_NAME = 'secrets-store.csi.k8s.io';

/** The token, the service-account tokens and the CSIDriver audiences on a real API server, with the driver's own RBAC. */
describe('Kubernetes credentials adapters on a real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane | undefined;
  let admin: Admin;
  let storage: StorageV1Api;
  let driverNumber = 0;

  before(async function () {
    plane = await startControlPlane(requireControlPlaneBinaries(this));
    admin = new Admin(plane);
    storage = plane.adminKubeConfig().makeApiClient(StorageV1Api);
  });
  after(async () => plane?.stop());

  const adminClient = (): KubernetesClient => new KubernetesClient(delegatedCredentials(plane!.adminKubeConfig()));

  async function putCsiDriver(name: string, tokenRequests: { audience: string; expirationSeconds?: number }[]): Promise<void> {
    const body: V1CSIDriver = { metadata: { name }, spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Ephemeral'], tokenRequests } };
    const existing = await storage.readCSIDriver({ name }).catch(() => undefined);
    if (existing === undefined) await storage.createCSIDriver({ body });
    else await storage.replaceCSIDriver({ name, body: { ...body, metadata: existing.metadata } });
  }

  /** The TokenReview verdict on a token for an audience ('' = the API server's own). */
  async function review(token: string, audience: string): Promise<{ authenticated: boolean; username?: string; audiences?: string[] }> {
    const api = plane!.adminKubeConfig().makeApiClient(AuthenticationV1Api);
    const result = await api.createTokenReview({ body: { spec: { token, ...(audience === '' ? {} : { audiences: [audience] }) } } });
    return { authenticated: result.status?.authenticated === true, username: result.status?.user?.username, audiences: result.status?.audiences };
  }

  tokenSourceContract(async () => {
    const namespace = await plane!.createNamespace('token-source');
    await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    const pod = await admin.putPod(aPodResource({ namespace, name: 'app-0' }));
    return {
      source: new KubernetesTokenSource({ client: adminClient() }),
      pod: { namespace, name: 'app-0', uid: pod.metadata.uid!, serviceAccountName: 'app' },
      now: () => Date.now(),
      close: async () => undefined,
    };
  });

  describe('KubernetesTokenAudiences', () => {
    let driverName: string;
    beforeEach(() => {
      driverName = `test-${++driverNumber}.csi.example.com`;
    });

    it('has no token requests while the CSIDriver object does not exist', async () => {
      expect(await new KubernetesTokenAudiences({ client: adminClient(), driverName }).requests()).to.deep.equal([]);
    });

    it('reads spec.tokenRequests with their expirationSeconds, the API server\'s own audience as ""', async () => {
      await putCsiDriver(driverName, [{ audience: 'vault', expirationSeconds: 1200 }, { audience: '' }]);
      expect(await new KubernetesTokenAudiences({ client: adminClient(), driverName }).requests()).to.deep.equal([
        { audience: 'vault', expirationSeconds: 1200 },
        { audience: '' },
      ]);
    });

    it('follows a change of the CSIDriver while started, and keeps the audiences when a refresh fails', async () => {
      await putCsiDriver(driverName, [{ audience: 'vault' }]);
      const kubeConfig = plane!.adminKubeConfig();
      const logger = new CollectingLogger();
      const audiences = new KubernetesTokenAudiences({ client: new KubernetesClient(delegatedCredentials(kubeConfig)), driverName, logger, refreshIntervalMs: 50 });
      audiences.start();
      try {
        expect(await audiences.requests()).to.deep.equal([{ audience: 'vault' }]);
        const changed = [{ audience: 'vault', expirationSeconds: 1200 }, { audience: 'sts.amazonaws.com' }];
        await putCsiDriver(driverName, changed);
        await eventually(async () => expect(await audiences.requests()).to.deep.equal(changed), 10_000, 50);
        (kubeConfig.getCurrentUser() as { token?: string }).token = 'revoked';
        await eventually(() => expect(logger.lines.some((line) => line.startsWith('warn reading the CSIDriver token audiences failed'))).to.equal(true), 10_000, 50);
        expect(await audiences.requests()).to.deep.equal(changed);
      } finally {
        audiences.stop();
      }
      expect(logger.lines.filter((line) => line.startsWith('info service-account token audiences'))).to.have.length(2);
    });

    it('has no token requests when reading the CSIDriver is forbidden, and says so in the log', async () => {
      await putCsiDriver(driverName, [{ audience: 'vault' }]);
      const logger = new CollectingLogger();
      const nobody = new KubernetesClient(delegatedCredentials(plane!.kubeConfigWithToken(plane!.nobodyToken)));
      expect(await new KubernetesTokenAudiences({ client: nobody, driverName, logger }).requests()).to.deep.equal([]);
      expect(logger.lines.join('\n')).to.match(/reading CSIDriver test-\d+\.csi\.example\.com is forbidden/);
    });

    it('rejects naming the CSIDriver when the API server cannot be reached', async () => {
      const kubeConfig = plane!.adminKubeConfig();
      const unreachable = kubeConfig.exportConfig().replace(plane!.server, 'https://127.0.0.1:1');
      kubeConfig.loadFromString(unreachable);
      const failure = await new KubernetesTokenAudiences({ client: new KubernetesClient(delegatedCredentials(kubeConfig)), driverName }).requests().then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.message).to.match(new RegExp(`^failed to read CSIDriver ${driverName.replace(/\./g, '\\.')}: `));
    });
  });

  describe('RefreshCredentials with the driver\'s ServiceAccount and deploy/rbac (base, rotation, token requests)', () => {
    it('recovers a restarted binding: mints tokens TokenReview accepts for the CSIDriver audiences, with their lifetimes, and reads the nodePublishSecretRef Secret', async () => {
      for (const file of ['serviceaccount', 'base', 'secret-rotation', 'token-requests']) await admin.apply(`deploy/rbac/${file}.yaml`);
      // 20 minutes for "vault"; the API server's own audience gets its default hour.
      await putCsiDriver(DRIVER_NAME, [{ audience: 'vault', expirationSeconds: 1200 }, { audience: '' }]);
      const namespace = await plane!.createNamespace('refresh');
      await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
      await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'provider-creds' }, stringData: { clientid: 'id-1' } } });
      const podResource = aPodResource({ namespace, name: 'app-0', nodeName: NODE });
      podResource.spec!.volumes![0]!.csi!.nodePublishSecretRef = { name: 'provider-creds' };
      const pod = await admin.putPod(podResource);
      const driverToken = await admin.core.createNamespacedServiceAccountToken({
        namespace: 'kube-system',
        name: 'secrets-store-csi-driver',
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const client = new KubernetesClient(delegatedCredentials(plane!.kubeConfigWithToken(driverToken.status!.token)));
      const pods = new KubernetesPodSource({ client, nodeName: NODE, retryDelayMs: 50 });
      pods.start();
      await pods.whenSynced();
      try {
        const refresh = new RefreshCredentials(
          new KubernetesTokenAudiences({ client, driverName: DRIVER_NAME }),
          new KubernetesTokenSource({ client }),
          pods,
          new KubernetesSecretSink({ client }),
          { now: () => Date.now() },
          new CollectingLogger(),
        );
        const kubeletRequest = parseVolumeRequest(aPublishCommand({ podUid: pod.metadata.uid!, podName: 'app-0' }), KUBELET_ROOT);
        const recovered = { ...kubeletRequest, pod: { ...kubeletRequest.pod, namespace }, serviceAccountTokens: undefined, nodePublishSecrets: {} };

        const refreshedAt = Date.now();
        const refreshed = await refresh.execute(recovered);

        expect(refreshed.nodePublishSecrets).to.deep.equal({ clientid: 'id-1' });
        const tokens = JSON.parse(refreshed.serviceAccountTokens!) as Record<string, { token: string; expirationTimestamp: string }>;
        expect(Object.keys(tokens)).to.deep.equal(['vault', '']);
        const lifetimes: Record<string, number> = { vault: 1200, '': 3600 };
        for (const [audience, { token, expirationTimestamp }] of Object.entries(tokens)) {
          const verdict = await review(token, audience);
          expect(verdict, `token for "${audience}"`).to.deep.include({ authenticated: true, username: `system:serviceaccount:${namespace}:app` });
          if (audience !== '') expect(verdict.audiences).to.deep.equal([audience]);
          const lifetimeSeconds = (Date.parse(expirationTimestamp) - refreshedAt) / 1000;
          expect(lifetimeSeconds, `lifetime of the token for "${audience}"`).to.be.closeTo(lifetimes[audience]!, 10);
        }
        expect(await refresh.execute(refreshed), 'fresh credentials are kept as they are').to.equal(refreshed);
      } finally {
        pods.stop();
      }
    });
  });
});
