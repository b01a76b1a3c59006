import { expect } from 'chai';
import { restartHash, RestartAnnotation, rotationEvidence } from '../../src/domain/restart-on-rotation.js';
import type { ObjectVersion } from '../../src/domain/object-versions.js';
import { eventually } from '../contract/eventually.js';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import { DEADLINE_MS, NODES, QUIET_MS, RestarterEnv } from './restarter-env.js';
import { sleep } from './processes.js';

const V2 = [{ id: 'db-password', version: 'v2' }];
const V3 = [{ id: 'db-password', version: 'v3' }];
const hashOf = (className: string, versions: readonly ObjectVersion[]): string =>
  restartHash(rotationEvidence({ mount: true, secret: false }, [{ className, objects: versions, rotatedAt: 1, podCreatedAt: 0 }], []));

/**
 * Restart on rotation on a real control plane: kube-apiserver with kube-controller-manager's deployment and
 * ReplicaSet controllers, the restarter process as its ServiceAccount, and node doubles (see RestarterEnv)
 * for kubelet and the node agents of node-1 and node-2.
 */
describe('e2e: the restarter rolls opted-in Deployments on a real control plane', function () {
  this.timeout(300_000);
  const env = new RestarterEnv();

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    await env.start(binaries);
    await env.startRestarter();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(env.logs());
    env.podsBecomeReady = true;
  });

  after(() => env.dispose());

  /** Waits until the Deployment's template carries `hash` and its rollout is complete, then watches it stay at `revision` for QUIET_MS. */
  async function expectRolledOnceTo(namespace: string, name: string, hash: string, revision: number, replicas: number): Promise<void> {
    await eventually(async () => expect((await env.templateAnnotations(namespace, name))[RestartAnnotation.restartedFor]).to.equal(hash), DEADLINE_MS, 100).catch(env.withLogs);
    await env.waitRolledOut(namespace, name, replicas);
    await sleep(QUIET_MS);
    expect(await env.revision(namespace, name), `rollouts of ${name}`).to.equal(revision);
    expect((await env.templateAnnotations(namespace, name))[RestartAnnotation.restartedFor]).to.equal(hash);
  }

  it('rolls a Deployment exactly once per rotation of its class, seen by both nodes, and not for a rotation of another class', async () => {
    const namespace = await env.createNamespace('rotation');
    await env.createDeployment(namespace, 'web', 'web-secrets', 2);
    await env.createDeployment(namespace, 'api', 'api-secrets', 1);
    expect(await env.revision(namespace, 'web')).to.equal(1);
    const webPods = await env.podsOf(namespace, 'web');
    expect(webPods.map((pod) => env.nodeOf(pod)).sort(), 'one web pod per node').to.deep.equal([...NODES]);

    // Another class rotates: api rolls, web does not.
    await env.rotate(await env.podsOf(namespace, 'api'), V2);
    await expectRolledOnceTo(namespace, 'api', hashOf('api-secrets', V2), 2, 1);
    expect(await env.revision(namespace, 'web'), 'web after the rotation of api-secrets').to.equal(1);

    // Its own class rotates, and both nodes' agents report the same versions at once: one rollout.
    await env.rotate(webPods, V2);
    await expectRolledOnceTo(namespace, 'web', hashOf('web-secrets', V2), 2, 2);

    // The next rotation of its class (on the pods the restart made): one more.
    await env.rotate(await env.podsOf(namespace, 'web'), V3);
    await expectRolledOnceTo(namespace, 'web', hashOf('web-secrets', V3), 3, 2);

    const events = (await env.admin.readEvents(namespace)).filter((event) => event.reason === 'RestartedOnRotation' && event.involvedObject.name === 'web');
    expect(events.map((event) => event.message).sort()).to.deep.equal([
      'restarting pods after a rotation of SecretProviderClass web-secrets (db-password v1 -> v2)',
      'restarting pods after a rotation of SecretProviderClass web-secrets (db-password v1 -> v3)',
    ]);
    expect(events.every((event) => event.involvedObject.kind === 'Deployment' && event.source?.component === 'secrets-store-csi-restarter')).to.equal(true);
  });

  it('rolls once when the second node reports the same rotation while the rollout it caused is in progress', async () => {
    const namespace = await env.createNamespace('late-node');
    await env.createDeployment(namespace, 'web', 'web-secrets', 2);
    const [first, second] = await env.podsOf(namespace, 'web');
    env.podsBecomeReady = false;
    await env.rotate([first!], V2);
    await eventually(async () => expect((await env.templateAnnotations(namespace, 'web'))[RestartAnnotation.restartedFor]).to.equal(hashOf('web-secrets', V2)), DEADLINE_MS, 100).catch(env.withLogs);
    // The old pod of the other node is still there (the new pods are not Ready): its agent now reports the same versions.
    await env.rotate([second!], V2);
    await sleep(QUIET_MS);
    env.podsBecomeReady = true;
    await expectRolledOnceTo(namespace, 'web', hashOf('web-secrets', V2), 2, 2);
  });

  it('rolls once when the restarter itself restarts mid-way: after it restarted the Deployment, or inside the debounce window', async () => {
    const namespace = await env.createNamespace('restarter-restart');
    await env.createDeployment(namespace, 'web', 'web-secrets', 2);

    // Killed right after it annotated the template (the rollout is still under way): the next one leaves it be.
    env.podsBecomeReady = false;
    await env.rotate(await env.podsOf(namespace, 'web'), V2);
    await eventually(async () => expect((await env.templateAnnotations(namespace, 'web'))[RestartAnnotation.restartedFor]).to.equal(hashOf('web-secrets', V2)), DEADLINE_MS, 100).catch(env.withLogs);
    await env.killRestarter();
    await env.startRestarter();
    env.podsBecomeReady = true;
    await expectRolledOnceTo(namespace, 'web', hashOf('web-secrets', V2), 2, 2);

    // Killed inside the debounce window of the next rotation: the next one restarts once.
    await env.rotate(await env.podsOf(namespace, 'web'), V3);
    await env.killRestarter();
    await env.startRestarter();
    await expectRolledOnceTo(namespace, 'web', hashOf('web-secrets', V3), 3, 2);
  });
});
