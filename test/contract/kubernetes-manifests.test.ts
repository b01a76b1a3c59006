import { AuthorizationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { SecretProviderClassResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesPodStatusStore } from '../../src/adapters/kubernetes/kubernetes-pod-status-store.js';
import { aPodResource, aPodStatusFor, ownerOf } from '../support/cluster-builders.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Admin, CSI, getJson } from '../support/kube-admin.js';
import { eventually } from './eventually.js';

/** The CRDs and RBAC of deploy/ as a cluster sees them: served versions, printer columns, who may do what. */
describe('deploy/ manifests on a real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane | undefined;
  let admin: Admin;

  before(async function () {
    plane = await startControlPlane(requireControlPlaneBinaries(this));
    admin = new Admin(plane);
  });
  after(async () => plane?.stop());

  const DRIVER = 'secrets-store-csi-driver';
  const RESTARTER = 'secrets-store-csi-restarter';

  /**
   * `kubectl auth can-i` for a service account of kube-system, as `<verb> <resource>[/<subresource>][.<group>] [<name>] [@<namespace>]`
   * (namespace `any-namespace` unless given).
   */
  async function serviceAccountCan(serviceAccount: string, check: string): Promise<boolean> {
    const words = check.split(' ');
    const namespace = words.find((word) => word.startsWith('@'))?.slice(1) ?? 'any-namespace';
    const [verb, target, name] = words.filter((word) => !word.startsWith('@')) as [string, string, string | undefined];
    const [resourcePath, ...groupParts] = target.split('.');
    const [resource, subresource] = resourcePath!.split('/');
    const review = await plane!
      .adminKubeConfig()
      .makeApiClient(AuthorizationV1Api)
      .createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:kube-system:${serviceAccount}`,
            groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
            resourceAttributes: {
              namespace,
              verb,
              resource: resource!,
              group: groupParts.join('.'),
              ...(subresource ? { subresource } : {}),
              ...(name ? { name } : {}),
            },
          },
        },
      });
    return review.status?.allowed === true;
  }

  async function expectMatrix(allowed: readonly string[], denied: readonly string[], serviceAccount = DRIVER): Promise<void> {
    await eventually(
      async () => {
        const wrong: string[] = [];
        for (const check of allowed) if (!(await serviceAccountCan(serviceAccount, check))) wrong.push(`denied: ${check}`);
        for (const check of denied) if (await serviceAccountCan(serviceAccount, check)) wrong.push(`allowed: ${check}`);
        expect(wrong).to.deep.equal([]);
      },
      15_000,
      200,
    );
  }

  const SPC = 'secretproviderclasses.secrets-store.csi.x-k8s.io';
  const SPCPS = 'secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io';
  const BASE = [
    ...['get', 'list', 'watch'].map((verb) => `${verb} ${SPC}`),
    ...['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'].map((verb) => `${verb} ${SPCPS}`),
    ...['get', 'list', 'watch'].map((verb) => `${verb} pods`),
    'create events',
    'patch events',
  ];
  const SECRET_ROTATION = ['get secrets'];
  const SECRET_SYNC = ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'].map((verb) => `${verb} secrets`);
  const TOKEN_REQUESTS = ['create serviceaccounts/token', 'get csidrivers.storage.k8s.io secrets-store.csi.k8s.io'];
  const NEVER = [
    ...['create', 'update', 'patch', 'delete'].map((verb) => `${verb} ${SPC}`),
    ...['create', 'update', 'patch', 'delete'].map((verb) => `${verb} pods`),
    'deletecollection secrets',
    'get serviceaccounts',
    'get configmaps',
    'get nodes',
    'delete events',
    `deletecollection ${SPCPS}`,
    'get csidrivers.storage.k8s.io another-driver',
    'list csidrivers.storage.k8s.io',
    // Restarting workloads is the restarter's alone.
    ...['deployments', 'statefulsets', 'daemonsets'].flatMap((resource) => ['patch', 'update'].map((verb) => `${verb} ${resource}.apps`)),
    'create leases.coordination.k8s.io @kube-system',
  ];

  it('grants the driver its base verbs, rotation, Secret sync and token requests each through their own role (can-i matrix)', async () => {
    await admin.apply('deploy/rbac/serviceaccount.yaml');
    await admin.apply('deploy/rbac/base.yaml');
    await expectMatrix(BASE, [...SECRET_SYNC, ...TOKEN_REQUESTS, ...NEVER]);
    await admin.apply('deploy/rbac/secret-rotation.yaml');
    await expectMatrix([...BASE, ...SECRET_ROTATION], [...SECRET_SYNC.filter((check) => !SECRET_ROTATION.includes(check)), ...TOKEN_REQUESTS, ...NEVER]);
    await admin.apply('deploy/rbac/secret-sync.yaml');
    await expectMatrix([...BASE, ...SECRET_SYNC], [...TOKEN_REQUESTS, ...NEVER]);
    await admin.apply('deploy/rbac/token-requests.yaml');
    await expectMatrix([...BASE, ...SECRET_SYNC, ...TOKEN_REQUESTS], NEVER);
  });

  it('grants the restarter only what restart on rotation needs, and the node agents nothing more for it (can-i matrix)', async () => {
    // The node agents' files may be there already (the matrix above applies them): what exists is kept.
    for (const file of ['serviceaccount', 'base', 'secret-rotation', 'secret-sync', 'token-requests']) {
      await admin.apply(`deploy/rbac/${file}.yaml`).catch((error: { code?: number }) => {
        if (error.code !== 409) throw error;
      });
    }
    await admin.apply('deploy/rbac/restarter.yaml');
    const WORKLOADS = ['deployments', 'statefulsets', 'daemonsets'].map((resource) => `${resource}.apps`);
    const LEASE = 'leases.coordination.k8s.io';
    await expectMatrix(
      [
        ...WORKLOADS.flatMap((workloads) => ['get', 'list', 'watch', 'patch'].map((verb) => `${verb} ${workloads}`)),
        'get replicasets.apps',
        'get pods',
        ...['get', 'list', 'watch'].map((verb) => `${verb} ${SPCPS}`),
        'list secrets',
        'watch secrets',
        'create events',
        'patch events',
        `create ${LEASE} @kube-system`,
        `get ${LEASE} secrets-store-csi-restarter @kube-system`,
        `patch ${LEASE} secrets-store-csi-restarter @kube-system`,
      ],
      [
        ...WORKLOADS.flatMap((workloads) => ['create', 'update', 'delete'].map((verb) => `${verb} ${workloads}`)),
        'patch deployments/scale.apps',
        'patch deployments/status.apps',
        ...['list', 'watch', 'patch', 'create', 'delete'].map((verb) => `${verb} replicasets.apps`),
        ...['list', 'watch', 'create', 'update', 'patch', 'delete'].map((verb) => `${verb} pods`),
        'create pods/eviction',
        ...['get', 'create', 'update', 'patch', 'delete'].map((verb) => `${verb} secrets`),
        ...['create', 'update', 'patch', 'delete'].map((verb) => `${verb} ${SPCPS}`),
        `get ${SPC}`,
        `get ${LEASE} another-lease @kube-system`,
        `patch ${LEASE} another-lease @kube-system`,
        `update ${LEASE} secrets-store-csi-restarter @kube-system`,
        `delete ${LEASE} secrets-store-csi-restarter @kube-system`,
        `create ${LEASE}`,
        `get ${LEASE} secrets-store-csi-restarter`,
        'create serviceaccounts/token',
      ],
      RESTARTER,
    );
    // The node agents keep exactly their own grants with the restarter's roles installed.
    await expectMatrix([...BASE, ...SECRET_SYNC, ...TOKEN_REQUESTS], NEVER);
  });

  it('serves SecretProviderClass in the deprecated v1alpha1 and in v1 alike', async () => {
    const namespace = await plane!.createNamespace('crds');
    const resource = { group: CSI.group, namespace, plural: 'secretproviderclasses' };
    const secretObjects = [{ secretName: 's', type: 'Opaque', labels: { a: 'b' }, data: [{ objectName: 'f', key: 'k' }] }];
    await admin.custom.createNamespacedCustomObject({
      ...resource,
      version: 'v1alpha1',
      body: { apiVersion: `${CSI.group}/v1alpha1`, kind: 'SecretProviderClass', metadata: { name: 'old' }, spec: { provider: 'vault', parameters: { roleName: 'r' }, secretObjects } },
    });
    const read = (await admin.custom.getNamespacedCustomObject({ ...resource, version: 'v1', name: 'old' })) as SecretProviderClassResource;
    expect(read.apiVersion).to.equal(`${CSI.group}/v1`);
    expect(read.spec).to.deep.equal({ provider: 'vault', parameters: { roleName: 'r' }, secretObjects });
  });

  it('prints pod, class, mounted, last rotation, rotation error (wide) and age columns for pod statuses', async () => {
    const namespace = await plane!.createNamespace('columns');
    const pod = await admin.putPod(aPodResource({ namespace, name: 'app-0' }));
    const rotation = { lastRotationTime: Date.now() - 60_000, lastRotationError: 'provider "fake" failed to mount: Throttled', nextRotationTime: Date.now() + 5_000 };
    await new KubernetesPodStatusStore({ client: new KubernetesClient(delegatedCredentials(plane!.adminKubeConfig())), nodeName: 'node-1' }).save({ ...aPodStatusFor(pod), rotation }, ownerOf(pod));
    const table = await getJson(`${plane!.server}/apis/${CSI.group}/v1/namespaces/${namespace}/secretproviderclasspodstatuses`, plane!.adminToken, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    const columns = table['columnDefinitions'] as { name: string; priority?: number }[];
    expect(columns.map((column) => column.name)).to.deep.equal(['Name', 'Pod', 'Class', 'Mounted', 'Last-Rotation', 'Rotation-Error', 'Age']);
    expect(columns.filter((column) => column.priority === 1).map((column) => column.name), 'shown with -o wide').to.deep.equal(['Rotation-Error']);
    const cells = (table['rows'] as { cells: unknown[] }[])[0]!.cells;
    expect(cells.slice(0, 4)).to.deep.equal([`app-0-${namespace}-app-secrets`, 'app-0', 'app-secrets', true]);
    expect(cells[4]).to.match(/^(59|60|61)s$/);
    expect(cells[5]).to.equal(rotation.lastRotationError);
  });
});
