import { KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { PodResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { ApiServerPodFeed } from '../../src/adapters/kubernetes/api-server-pod-feed.js';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesEventRecorder } from '../../src/adapters/kubernetes/kubernetes-event-recorder.js';
import { KubernetesPodSource } from '../../src/adapters/kubernetes/kubernetes-pod-source.js';
import { KubernetesPodStatusStore } from '../../src/adapters/kubernetes/kubernetes-pod-status-store.js';
import { KubernetesSecretProviderClassSource } from '../../src/adapters/kubernetes/kubernetes-secret-provider-class-source.js';
import { KubernetesSecretSink } from '../../src/adapters/kubernetes/kubernetes-secret-sink.js';
import { KubernetesTokenSource } from '../../src/adapters/kubernetes/kubernetes-token-source.js';
import { DomainError } from '../../src/domain/errors.js';
import { aClassResource, aNewSecret, aPodResource, aPodStatusFor, ownerOf } from '../support/cluster-builders.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Admin, CSI, json, startProxy } from '../support/kube-admin.js';
import { eventRecorderContract } from './event-recorder.contract.js';
import { eventually } from './eventually.js';
import { FEED_CSI_DRIVER, FEED_NODE, podFeedContract } from './pod-feed.contract.js';
import { podSourceContract } from './pod-source.contract.js';
import { podStatusStoreContract } from './pod-status-store.contract.js';
import { secretSinkContract } from './secret-sink.contract.js';
import { classSourceContract } from './secret-provider-class-source.contract.js';

const NODE = 'node-1';
/** How long a fixture waits for a watch-backed cache to see a write. */
const CACHE_WAIT_MS = 10_000;

/** Waits until a cache reports `expected` as the resourceVersion it holds for an object. */
async function cacheHolds(read: () => string | undefined, expected: string | undefined): Promise<void> {
  await eventually(() => {
    if (read() !== expected) throw new Error(`cache holds resourceVersion ${read()}, expected ${expected}`);
  }, CACHE_WAIT_MS);
}

describe('Kubernetes adapters on a real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane | undefined;
  let admin: Admin;

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    plane = await startControlPlane(binaries);
    admin = new Admin(plane);
  });
  after(async () => plane?.stop());

  const client = (): KubernetesClient => new KubernetesClient(delegatedCredentials(plane!.adminKubeConfig()));

  classSourceContract(async () => {
    const namespace = await plane!.createNamespace('class-source');
    const source = new KubernetesSecretProviderClassSource({ client: client(), retryDelayMs: 50 });
    source.start();
    await source.whenSynced();
    return {
      source,
      namespace,
      putClass: async (object) => {
        const version = await admin.putClass(object);
        await cacheHolds(() => source.cachedResourceVersion(object.metadata.namespace ?? 'default', object.metadata.name), version);
      },
      deleteClass: async (ns, name) => {
        await admin.custom.deleteNamespacedCustomObject({ ...CSI, namespace: ns, plural: 'secretproviderclasses', name });
        await cacheHolds(() => source.cachedResourceVersion(ns, name), undefined);
      },
      close: async () => source.stop(),
    };
  });

  podStatusStoreContract(async () => {
    const store = new KubernetesPodStatusStore({ client: client(), nodeName: NODE, retryDelayMs: 50 });
    store.start();
    await store.whenSynced();
    return {
      store,
      namespace: await plane!.createNamespace('pod-status'),
      putPod: (object) => admin.putPod(object),
      readPodStatusObject: (namespace, name) => admin.readPodStatusObject(namespace, name),
      close: async () => store.stop(),
    };
  });

  secretSinkContract(async () => {
    const sink = new KubernetesSecretSink({ client: client(), retryDelayMs: 50 });
    return {
      sink,
      namespace: await plane!.createNamespace('secret-sink'),
      putPod: (object) => admin.putPod(object),
      readSecret: (namespace, name) => admin.readSecret(namespace, name),
      close: async () => sink.stop(),
    };
  });

  podSourceContract(async () => {
    const namespace = await plane!.createNamespace('pod-source');
    const source = new KubernetesPodSource({ client: client(), nodeName: NODE, retryDelayMs: 50 });
    source.start();
    await source.whenSynced();
    const cached = (ns: string, name: string) => () => source.cachedResourceVersion(ns, name);
    return {
      source,
      namespace,
      putPod: async (object) => {
        const stored = await admin.putPod(object);
        await cacheHolds(cached(stored.metadata.namespace!, stored.metadata.name), stored.metadata.resourceVersion);
        return stored;
      },
      terminatePod: async (ns, name) => {
        const deleting = json<PodResource>(await admin.core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 30 }));
        await cacheHolds(cached(ns, name), deleting.metadata.resourceVersion);
      },
      deletePod: async (ns, name) => {
        await admin.core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 });
        await cacheHolds(cached(ns, name), undefined);
      },
      close: async () => source.stop(),
    };
  });

  let feedDrivers = 0;
  podFeedContract(async () => {
    const namespace = await plane!.createNamespace('pod-feed');
    await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    const csiDriverName = `feed-${++feedDrivers}.example.com`;
    const storage = plane!.adminKubeConfig().makeApiClient(StorageV1Api);
    await storage.createCSIDriver({ body: { metadata: { name: csiDriverName }, spec: { ...FEED_CSI_DRIVER } } });
    return {
      feed: new ApiServerPodFeed({ client: client(), nodeName: FEED_NODE, retryDelayMs: 50 }),
      namespace,
      csiDriverName,
      putPod: (object) => admin.putPod(object),
      terminatePod: async (ns, name) => void (await admin.core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 30 })),
      deletePod: async (ns, name) => void (await admin.core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 })),
      readPod: async (ns, name) => {
        const pod = await admin.core.readNamespacedPod({ namespace: ns, name }).catch(() => undefined);
        return pod === undefined ? undefined : json<PodResource>(pod);
      },
      putSecret: async (ns, name, data) => void (await admin.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } })),
      events: (ns) => admin.readEvents(ns),
      close: async () => void (await storage.deleteCSIDriver({ name: csiDriverName })),
    };
  });

  eventRecorderContract(async () => {
    const kubeConfig = plane!.adminKubeConfig();
    return {
      recorder: new KubernetesEventRecorder({ client: new KubernetesClient(delegatedCredentials(kubeConfig)), clock: { now: () => Date.now() }, nodeName: NODE }),
      namespace: await plane!.createNamespace('events'),
      putPod: (object) => admin.putPod(object),
      readEvents: (namespace) => admin.readEvents(namespace),
      // The recorder's credentials stop working: every later request is refused (401).
      failWrites: () => void ((kubeConfig.getCurrentUser() as { token?: string }).token = 'revoked'),
      close: async () => undefined,
    };
  });

  describe('beyond the port contracts', () => {
    let namespace: string;
    let pod: PodResource;

    beforeEach(async () => {
      namespace = await plane!.createNamespace('adapters');
      pod = await admin.putPod(aPodResource({ namespace, name: 'app-0' }));
    });

    const nobody = (): KubernetesClient => new KubernetesClient(delegatedCredentials(plane!.kubeConfigWithToken(plane!.nobodyToken)));
    /** An admin client counting the reads that go past the caches. */
    const counted = (): { client: KubernetesClient; reads: string[] } => {
      const reads: string[] = [];
      return { client: new KubernetesClient(delegatedCredentials(plane!.adminKubeConfig()), { onDirectRead: (resource) => reads.push(resource) }), reads };
    };

    it('reads managed Secrets from a watch once they are listed, its own writes included', async () => {
      const { client, reads } = counted();
      const sink = new KubernetesSecretSink({ client, retryDelayMs: 50 });
      try {
        await sink.create(aNewSecret({ namespace, name: 'synced' }));
        expect(await sink.get(namespace, 'synced')).not.to.equal(undefined);
        await sink.whenSynced();
        const before = reads.length;
        await sink.patch(namespace, 'synced', { data: { password: new TextEncoder().encode('v2') } });
        const read = await sink.get(namespace, 'synced');
        expect(new TextDecoder().decode(read!.data['password'])).to.equal('v2');
        expect(await sink.get(namespace, 'synced')).to.deep.equal(read);
        expect(reads.length, `direct reads: ${reads.join(', ')}`).to.equal(before);
        // A Secret the driver does not manage is read from the API server.
        await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'foreign' }, stringData: { a: 'b' } } });
        expect(await sink.get(namespace, 'foreign')).not.to.equal(undefined);
        expect(reads.slice(before)).to.deep.equal(['secrets']);
      } finally {
        sink.stop();
      }
    });

    it('creates a pod status without reading it first, and reads the node\'s pod statuses from a watch', async () => {
      const { client, reads } = counted();
      const store = new KubernetesPodStatusStore({ client, nodeName: NODE, retryDelayMs: 50 });
      store.start();
      try {
        await store.whenSynced();
        const saved = await store.save(aPodStatusFor(pod, { objects: [{ id: 'secret/db', version: '1' }] }), ownerOf(pod));
        await store.save(aPodStatusFor(pod, { objects: [{ id: 'secret/db', version: '2' }] }), ownerOf(pod));
        expect((await store.get(saved.namespace, saved.name))?.objects).to.deep.equal([{ id: 'secret/db', version: '2' }]);
        expect((await store.listByNode(NODE)).filter((status) => status.namespace === namespace)).to.have.length(1);
        expect(reads).to.deep.equal([]);
      } finally {
        store.stop();
      }
    });
    it('lists the node\'s pods at the first read, which waits for that list instead of reading the pod', async () => {
      const { client, reads } = counted();
      const source = new KubernetesPodSource({ client, nodeName: NODE, retryDelayMs: 50 });
      try {
        expect((await source.get(namespace, 'app-0'))?.uid).to.equal(pod.metadata.uid);
        expect(source.cachedResourceVersion(namespace, 'app-0')).to.equal(pod.metadata.resourceVersion);
        const later = await admin.putPod(aPodResource({ namespace, name: 'app-1' }));
        await cacheHolds(() => source.cachedResourceVersion(namespace, 'app-1'), later.metadata.resourceVersion);
        expect((await source.get(namespace, 'app-1'))?.uid).to.equal(later.metadata.uid);
        expect(reads).to.deep.equal([]);
      } finally {
        source.stop();
      }
    });

    it('reads a pod from the API server after the pod cache was stopped, without starting the cache', async () => {
      const { client, reads } = counted();
      const source = new KubernetesPodSource({ client, nodeName: NODE, retryDelayMs: 50 });
      source.stop();
      expect((await source.get(namespace, 'app-0'))?.uid).to.equal(pod.metadata.uid);
      expect(reads).to.deep.equal(['pods']);
      expect(source.cachedResourceVersion(namespace, 'app-0')).to.equal(undefined);
    });

    const rejection = async (promise: Promise<unknown>): Promise<Error> => {
      try {
        await promise;
      } catch (error) {
        return error as Error;
      }
      throw new Error('expected a rejection');
    };

    it('saves pod statuses from concurrent writers, retrying the conflicting ones', async () => {
      const versions = ['v1', 'v2', 'v3'];
      const saved = await Promise.all(
        versions.map((version) =>
          new KubernetesPodStatusStore({ client: client(), nodeName: NODE }).save(aPodStatusFor(pod, { objects: [{ id: 'secret/db', version }] }), ownerOf(pod)),
        ),
      );
      expect(new Set(saved.map((status) => status.uid)).size).to.equal(1);
      const stored = await admin.readPodStatusObject(namespace, saved[0]!.name);
      expect(versions).to.include(stored!.status!.objects![0]!.version);
    });

    it('reports refused writes as Internal DomainErrors that quote the API server', async () => {
      const statusError = await rejection(new KubernetesPodStatusStore({ client: nobody(), nodeName: NODE }).save(aPodStatusFor(pod), ownerOf(pod)));
      expect(statusError).to.be.instanceOf(DomainError).and.to.include({ code: 'Internal' });
      expect(statusError.message).to.match(/^failed to save secretproviderclasspodstatus .+: .*forbidden: User "nobody" cannot create resource "secretproviderclasspodstatuses"/);
      const secretError = await rejection(new KubernetesSecretSink({ client: nobody() }).create(aNewSecret({ namespace, name: 'denied' })));
      expect(secretError.message).to.match(new RegExp(`^failed to create Secret ${namespace}/denied: secrets is forbidden: User "nobody" cannot create resource "secrets"`));
      const exists = await rejection(
        (async () => {
          const sink = new KubernetesSecretSink({ client: client() });
          await sink.create(aNewSecret({ namespace, name: 'twice' }));
          await sink.create(aNewSecret({ namespace, name: 'twice' }));
        })(),
      );
      expect(exists.message).to.equal(`failed to create Secret ${namespace}/twice: secrets "twice" already exists`);
      const classError = await rejection(new KubernetesSecretProviderClassSource({ client: nobody() }).get(namespace, 'app-secrets'));
      expect(classError.message).to.match(new RegExp(`^failed to get secretproviderclass ${namespace}/app-secrets: .*forbidden`));
    });

    it('counts a repeated event on the first Event instead of adding another', async () => {
      const recorder = new KubernetesEventRecorder({ client: client(), clock: { now: () => Date.now() } });
      const event = { pod: { namespace, name: 'app-0', uid: pod.metadata.uid! }, type: 'Warning', reason: 'MountRotationFailed', message: 'provider down' } as const;
      await recorder.record(event);
      await recorder.record(event);
      const events = (await admin.readEvents(namespace)).filter((e) => e.reason === 'MountRotationFailed');
      expect(events).to.have.length(1);
      expect(events[0]!.count).to.equal(2);
    });

    it('requests one pod-bound token per audience through TokenRequest', async () => {
      await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
      const source = new KubernetesTokenSource({ client: client() });
      const identity = { namespace, name: 'app-0', uid: pod.metadata.uid!, serviceAccountName: 'app' };
      expect(await source.tokensFor(identity, [])).to.equal(undefined);
      const tokens = JSON.parse((await source.tokensFor(identity, [{ audience: 'vault', expirationSeconds: 3600 }, { audience: 'aws' }]))!) as Record<string, { token: string; expirationTimestamp: string }>;
      expect(Object.keys(tokens).sort()).to.deep.equal(['aws', 'vault']);
      for (const [audience, { token, expirationTimestamp }] of Object.entries(tokens)) {
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
        expect(claims['aud']).to.deep.equal([audience]);
        expect(claims['sub']).to.equal(`system:serviceaccount:${namespace}:app`);
        expect((claims['kubernetes.io'] as { pod: { uid: string } }).pod.uid).to.equal(pod.metadata.uid);
        expect(expirationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      }
      const wrongPod = await rejection(source.tokensFor({ ...identity, uid: 'not-the-pod-uid' }, [{ audience: 'vault' }]));
      expect(wrongPod.message).to.match(new RegExp(`^failed to request a token for serviceaccount ${namespace}/app \\(pod app-0, audience "vault"\\): `));
    });

    it('lets the garbage collector delete a pod status with its pod', async () => {
      const saved = await new KubernetesPodStatusStore({ client: client(), nodeName: NODE }).save(aPodStatusFor(pod), ownerOf(pod));
      await admin.core.deleteNamespacedPod({ namespace, name: 'app-0', gracePeriodSeconds: 0 });
      await eventually(async () => expect(await admin.readPodStatusObject(namespace, saved.name)).to.equal(undefined), 60_000, 250);
    });

    it('resumes watching classes after the connection to the API server drops', async () => {
      const proxy = await startProxy(new URL(plane!.server).port);
      const kubeConfig = plane!.adminKubeConfig();
      const proxied = new KubeConfig();
      proxied.loadFromString(kubeConfig.exportConfig().replace(plane!.server, `https://127.0.0.1:${proxy.port}`));
      const source = new KubernetesSecretProviderClassSource({ client: new KubernetesClient(delegatedCredentials(proxied)), retryDelayMs: 50 });
      try {
        source.start();
        await source.whenSynced();
        const before = await admin.putClass(aClassResource({ namespace, name: 'before' }));
        await cacheHolds(() => source.cachedResourceVersion(namespace, 'before'), before);
        expect(proxy.dropConnections()).to.be.greaterThan(0);
        const after = await admin.putClass(aClassResource({ namespace, name: 'after' }));
        await cacheHolds(() => source.cachedResourceVersion(namespace, 'after'), after);
      } finally {
        source.stop();
        await proxy.close();
      }
    });
  });
});
