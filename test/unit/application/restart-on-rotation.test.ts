import { expect } from 'chai';
import { RestartAnnotation, restartHash, rotationEvidence, secretRotationMarker } from '../../../src/domain/restart-on-rotation.js';
import { MANAGED_LABEL } from '../../../src/domain/secret-sync-plan.js';
import { toLeaseResource } from '../../../src/adapters/kube-objects/lease-mapping.js';
import { aSecretResource } from '../../support/cluster-builders.js';
import { MemoryWorkloadStore } from '../../../src/adapters/memory-cluster/memory-workload-store.js';
import type { StringMap } from '../../../src/domain/volume-binding.js';
import type { Workload, WorkloadKey } from '../../../src/domain/workload.js';
import type { TemplateWrite, WorkloadStore } from '../../../src/ports/workload-store.js';
import { LEASE_TIMING, NS, RestarterWorld, SETTINGS } from '../../support/restarter-world.js';

/**
 * A watch-backed view of the workloads that can fall behind the cluster, as an informer's cache does while
 * its watch lags or reconnects: while behind, reads return the version last seen and changes are held back;
 * `catchUp` brings it current and delivers them. Writes go to the cluster (they are refused as conflicts when
 * the view is stale); more than `writeLimit` of them fail, so that a loop of writes ends the test instead of hanging it.
 */
class LaggingWorkloadStore implements WorkloadStore {
  writes = 0;
  private behind = new Map<string, Workload | undefined>();
  private held: WorkloadKey[] = [];
  private listeners = new Set<(key: WorkloadKey) => void>();

  constructor(private readonly cluster: WorkloadStore, private readonly writeLimit: number) {
    cluster.onChange((key) => {
      if (this.behind.size > 0) this.held.push(key);
      else for (const listener of this.listeners) listener(key);
    });
  }

  async fallBehind(key: WorkloadKey): Promise<void> {
    this.behind.set(keyText(key), await this.cluster.get(key));
  }

  catchUp(): void {
    this.behind.clear();
    for (const key of this.held.splice(0)) for (const listener of this.listeners) listener(key);
  }

  async get(key: WorkloadKey): Promise<Workload | undefined> {
    return this.behind.has(keyText(key)) ? this.behind.get(keyText(key)) : this.cluster.get(key);
  }

  async list(): Promise<Workload[]> {
    return Promise.all((await this.cluster.list()).map(async (workload) => (await this.get(workload.key)) ?? workload));
  }

  async setTemplateAnnotations(workload: Workload, annotations: StringMap): Promise<TemplateWrite> {
    if (++this.writes > this.writeLimit) throw new Error(`more than ${this.writeLimit} writes`);
    return this.cluster.setTemplateAnnotations(workload, annotations);
  }

  onChange(listener: (key: WorkloadKey) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function keyText(key: WorkloadKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

const V1 = [{ id: 'db-password', version: 'v1' }];
const V2 = [{ id: 'db-password', version: 'v2' }];
const V3 = [{ id: 'db-password', version: 'v3' }];
const hashOf = (versions: typeof V1, className = 'app-secrets'): string =>
  restartHash(rotationEvidence({ mount: true, secret: false }, [{ className, objects: versions, rotatedAt: 1, podCreatedAt: 0 }], []));

describe('application: restart on rotation (in-memory cluster, manual clock)', () => {
  let world: RestarterWorld;

  beforeEach(() => {
    world = new RestarterWorld();
  });
  afterEach(() => world.stop());

  it('restarts an opted-in Deployment once its rotation has held still for the debounce window, with an event naming the class and objects', async () => {
    world.addWorkload('Deployment', 'web', { pods: 2 });
    const { metrics } = world.start();
    await world.settle();
    expect(world.generation('Deployment', 'web'), 'nothing rotated yet').to.equal(1);

    await world.rotate('web-5d8f-0', V2);
    await world.advance(SETTINGS.debounceMs - 1);
    expect(world.template('Deployment', 'web')[RestartAnnotation.restartedFor], 'inside the debounce window').to.equal(undefined);
    await world.advance(1);
    expect(world.template('Deployment', 'web')).to.include({ [RestartAnnotation.restartedFor]: hashOf(V2), [RestartAnnotation.restartedAt]: new Date(world.clock.now()).toISOString() });
    expect(world.generation('Deployment', 'web')).to.equal(2);
    expect(world.events('RestartedOnRotation')).to.deep.equal([
      { name: 'web', kind: 'Deployment', type: 'Normal', message: 'restarting pods after a rotation of SecretProviderClass app-secrets (db-password v1 -> v2)', count: 1 },
    ]);
    expect(metrics.count('workload_restarts_total', { kind: 'Deployment' })).to.equal(1);
  });

  it('restarts once when a second node reports the same versions, before or after the restart', async () => {
    world.addWorkload('Deployment', 'web', { pods: 3 });
    const { metrics } = world.start();
    await world.rotate('web-5d8f-0', V2);
    await world.advance(10_000);
    await world.rotate('web-5d8f-1', V2);
    await world.advance(SETTINGS.debounceMs);
    await world.rotate('web-5d8f-2', V2);
    await world.advance(SETTINGS.minIntervalMs * 2);
    expect(world.generation('Deployment', 'web')).to.equal(2);
    expect(metrics.count('workload_restarts_total')).to.equal(1);
    expect(metrics.count('workload_restart_skipped_total', { reason: 'AlreadyRestarted' })).to.be.greaterThan(0);
  });

  it('does not restart a workload for a rotation of another class, nor one that did not opt in', async () => {
    world.addWorkload('Deployment', 'web', { pods: 2, className: 'web-secrets' });
    world.addWorkload('Deployment', 'api', { pods: 2, className: 'api-secrets' });
    world.addWorkload('Deployment', 'batch', { pods: 1, className: 'api-secrets', optIn: '' });
    world.start();
    await world.rotate('api-5d8f-0', V2, 'api-secrets');
    await world.rotate('batch-5d8f-0', V2, 'api-secrets');
    await world.advance(SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'api')).to.equal(2);
    expect(world.generation('Deployment', 'web')).to.equal(1);
    expect(world.generation('Deployment', 'batch')).to.equal(1);
  });

  it('restarts once for versions that move again within the window, for the latest versions', async () => {
    world.addWorkload('Deployment', 'web', { pods: 2 });
    world.start();
    await world.rotate('web-5d8f-0', V2);
    await world.advance(20_000);
    await world.rotate('web-5d8f-0', V3);
    await world.advance(20_000);
    expect(world.generation('Deployment', 'web'), 'the window starts again at the second move').to.equal(1);
    await world.advance(10_000);
    expect(world.generation('Deployment', 'web')).to.equal(2);
    expect(world.template('Deployment', 'web')[RestartAnnotation.restartedFor]).to.equal(hashOf(V3));
  });

  it('waits the per-workload interval before restarting again, then restarts for the next rotation', async () => {
    world.addWorkload('Deployment', 'web', { pods: 1 });
    world.start();
    await world.rotate('web-5d8f-0', V2);
    await world.advance(SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'web')).to.equal(2);
    await world.rotate('web-5d8f-0', V3);
    await world.advance(SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'web'), 'within --min-restart-interval').to.equal(2);
    await world.advance(SETTINGS.minIntervalMs - SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'web')).to.equal(3);
    expect(world.template('Deployment', 'web')[RestartAnnotation.restartedFor]).to.equal(hashOf(V3));
  });

  it('spreads restarts across the cluster by the cluster-wide bucket', async () => {
    world.addWorkload('Deployment', 'a', { pods: 1 });
    world.addWorkload('Deployment', 'b', { pods: 1 });
    world.start({ ...SETTINGS, clusterLimit: { qps: 0.01, burst: 1 } });
    await world.rotate('a-5d8f-0', V2);
    await world.rotate('b-5d8f-0', V2);
    await world.advance(SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'a') + world.generation('Deployment', 'b'), 'one of the two').to.equal(3);
    await world.advance(100_000 - 1_000);
    expect(world.generation('Deployment', 'a') + world.generation('Deployment', 'b'), 'the next token is 100 s away').to.equal(3);
    await world.advance(1_000);
    expect([world.generation('Deployment', 'a'), world.generation('Deployment', 'b')]).to.deep.equal([2, 2]);
  });

  it('never restarts during a rollout: it waits for the rollout to complete', async () => {
    const held = new RestarterWorld({ holdRollouts: true });
    try {
      held.addWorkload('Deployment', 'web', { pods: 2 });
      const { metrics } = held.start();
      held.cluster.patch('Deployment', NS, 'web', { status: { observedGeneration: 1, replicas: 3, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 } });
      await held.rotate('web-5d8f-0', V2);
      await held.advance(SETTINGS.debounceMs * 3);
      expect(held.generation('Deployment', 'web')).to.equal(1);
      expect(metrics.count('workload_restart_skipped_total', { reason: 'RolloutInProgress' })).to.be.greaterThan(0);
      held.cluster.patch('Deployment', NS, 'web', { status: { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } });
      await held.settle();
      expect(held.generation('Deployment', 'web'), 'the debounce window ran during the rollout').to.equal(2);
    } finally {
      await held.stop();
    }
  });

  it('restarts StatefulSets and DaemonSets too', async () => {
    world.addWorkload('StatefulSet', 'db', { pods: 2 });
    world.addWorkload('DaemonSet', 'agent', { pods: 2 });
    world.start();
    await world.rotate('db-0', V2);
    await world.rotate('agent-1', V2);
    await world.advance(SETTINGS.debounceMs);
    expect(world.template('StatefulSet', 'db')[RestartAnnotation.restartedFor]).to.equal(hashOf(V2));
    expect(world.template('DaemonSet', 'agent')[RestartAnnotation.restartedFor]).to.equal(hashOf(V2));
  });

  it('reports a bad opt-in value once as a Warning event and restarts nothing', async () => {
    world.addWorkload('Deployment', 'web', { pods: 1, optIn: 'yes please' });
    const { metrics } = world.start();
    await world.rotate('web-5d8f-0', V2);
    await world.advance(SETTINGS.debounceMs);
    await world.rotate('web-5d8f-0', V3);
    await world.advance(SETTINGS.debounceMs);
    expect(world.generation('Deployment', 'web')).to.equal(1);
    const [warning, ...more] = world.events('RestartOnRotationFailed');
    expect(more).to.deep.equal([]);
    expect(warning).to.deep.include({ kind: 'Deployment', type: 'Warning', count: 1 });
    expect(warning!.message).to.match(/invalid value "yes please" for annotation secrets-store\.csi\.k8s\.io\/restart-on-rotation/);
    expect(metrics.count('workload_restart_skipped_total', { reason: 'InvalidOptIn' })).to.be.greaterThan(0);
  });

  describe('mode "secret": the synced Secrets the pods read', () => {
    const syncedSecret = (marker?: Record<string, string>) => {
      const secret = aSecretResource({ namespace: NS, name: 'db-credentials', labels: { [MANAGED_LABEL]: 'true' } });
      if (marker) secret.metadata.annotations = marker;
      return secret;
    };

    it('restarts once a rotation changed a synced Secret the template reads, and not for a mount rotation', async () => {
      world.cluster.create(syncedSecret());
      world.addWorkload('Deployment', 'web', { pods: 2, optIn: 'secret', secretNames: ['db-credentials'] });
      world.start();
      await world.rotate('web-5d8f-0', V2);
      await world.advance(SETTINGS.debounceMs);
      expect(world.generation('Deployment', 'web'), 'a mount rotation alone').to.equal(1);
      world.cluster.update(syncedSecret(secretRotationMarker(V2, world.clock.now())));
      await world.advance(SETTINGS.debounceMs);
      expect(world.generation('Deployment', 'web')).to.equal(2);
      expect(world.events('RestartedOnRotation')[0]!.message).to.equal('restarting pods after a rotation of synced Secret db-credentials');
    });

    it('does not restart pods created after the Secret last changed', async () => {
      world.cluster.create(syncedSecret(secretRotationMarker(V2, world.clock.now() - 60_000)));
      world.addWorkload('Deployment', 'web', { pods: 2, optIn: 'secret', secretNames: ['db-credentials'] });
      world.start();
      await world.advance(SETTINGS.debounceMs * 2);
      expect(world.generation('Deployment', 'web')).to.equal(1);
    });
  });

  it('after a restart refused as a conflict (its view of the workload is behind), writes again once the view caught up or a second later, not at once in a loop', async () => {
    world.addWorkload('Deployment', 'web', { pods: 1 });
    const view = new LaggingWorkloadStore(new MemoryWorkloadStore(world.cluster), 20);
    const { metrics } = world.start(SETTINGS, undefined, view);
    await world.settle();
    await view.fallBehind({ kind: 'Deployment', namespace: NS, name: 'web' });
    world.cluster.patch('Deployment', NS, 'web', { metadata: { labels: { tier: 'front' } } }); // a new resourceVersion
    await world.rotate('web-5d8f-0', V2);
    await world.advance(SETTINGS.debounceMs);
    expect(view.writes, 'writes with the stale version').to.equal(1);
    expect(metrics.count('workload_restart_errors_total')).to.equal(0);
    await world.advance(1_000);
    expect(view.writes, 'tried again a second later').to.equal(2);

    view.catchUp();
    await world.settle();
    expect(world.generation('Deployment', 'web')).to.equal(2);
    expect(world.template('Deployment', 'web')[RestartAnnotation.restartedFor]).to.equal(hashOf(V2));
    expect(metrics.count('workload_restarts_total')).to.equal(1);
  });

  describe('restarts of the restarter itself', () => {
    it('causes no second restart: the hash on the template is the record', async () => {
      world.addWorkload('Deployment', 'web', { pods: 2 });
      const first = world.start();
      await world.rotate('web-5d8f-0', V2);
      await world.advance(SETTINGS.debounceMs);
      expect(world.generation('Deployment', 'web')).to.equal(2);
      await first.restarter.stop();
      const second = world.start();
      await world.advance(SETTINGS.minIntervalMs * 2);
      expect(world.generation('Deployment', 'web')).to.equal(2);
      expect(second.metrics.count('workload_restart_skipped_total', { reason: 'AlreadyRestarted' })).to.be.greaterThan(0);
    });

    it('a restart in the middle of the debounce window restarts once, a window after the new start', async () => {
      world.addWorkload('Deployment', 'web', { pods: 2 });
      const first = world.start();
      await world.rotate('web-5d8f-0', V2);
      await world.advance(20_000);
      await first.restarter.stop();
      world.start();
      await world.advance(SETTINGS.debounceMs - 1);
      expect(world.generation('Deployment', 'web')).to.equal(1);
      await world.advance(1);
      await world.advance(SETTINGS.minIntervalMs * 2);
      expect(world.generation('Deployment', 'web')).to.equal(2);
    });
  });

  describe('leader election', () => {
    it('lets only the replica holding the Lease act, and the other take over once it is released', async () => {
      world.addWorkload('Deployment', 'web', { pods: 1 });
      const a = world.start(SETTINGS, 'replica-a');
      await world.advance(0);
      const b = world.start(SETTINGS, 'replica-b');
      await world.advance(2_000);
      expect([a.metrics.leader, b.metrics.leader]).to.deep.equal([1, 0]);
      expect(world.cluster.get('Lease', 'kube-system', 'restarter')?.spec?.holderIdentity).to.equal('replica-a');

      await world.rotate('web-5d8f-0', V2);
      await world.advance(SETTINGS.debounceMs);
      expect(world.generation('Deployment', 'web')).to.equal(2);
      expect([a.metrics.count('workload_restarts_total'), b.metrics.count('workload_restarts_total')]).to.deep.equal([1, 0]);

      await a.restarter.stop();
      await world.advance(2_000);
      expect(b.metrics.leader, 'took over the released lease').to.equal(1);
      await world.rotate('web-5d8f-0', V3);
      await world.advance(SETTINGS.minIntervalMs);
      expect(world.generation('Deployment', 'web')).to.equal(3);
      expect(b.metrics.count('workload_restarts_total')).to.equal(1);
    });

    it('takes over from a holder that stopped renewing once the lease has expired (by its own clock)', async () => {
      world.cluster.create(toLeaseResource('kube-system', 'restarter', { holder: 'gone-replica', durationMs: 15_000, acquireTime: world.clock.now(), renewTime: world.clock.now(), transitions: 0 }));
      const b = world.start(SETTINGS, 'replica-b');
      await world.advance(14_000);
      expect(b.metrics.leader).to.equal(0);
      await world.advance(LEASE_TIMING.retryPeriodMs * 2);
      expect(b.metrics.leader, 'within a retry period of the expiry').to.equal(1);
      expect(world.cluster.get('Lease', 'kube-system', 'restarter')?.spec).to.include({ holderIdentity: 'replica-b', leaseTransitions: 1 });
    });

    it('stops acting once it cannot renew within the renew deadline', async () => {
      world.addWorkload('Deployment', 'web', { pods: 1 });
      const a = world.start(SETTINGS, 'replica-a');
      await world.advance(0);
      expect(a.metrics.leader).to.equal(1);
      world.cluster.interceptWrites((attempt) => (attempt.kind === 'Lease' ? new Error('the API server is unreachable') : undefined));
      await world.advance(8_000);
      expect(a.metrics.leader, 'inside the renew deadline').to.equal(1);
      await world.advance(2_000);
      expect(a.metrics.leader, 'past the renew deadline').to.equal(0);
      await world.rotate('web-5d8f-0', V2);
      await world.advance(SETTINGS.debounceMs);
      expect(world.generation('Deployment', 'web'), 'a follower restarts nothing').to.equal(1);
    });
  });
});
