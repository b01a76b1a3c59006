import { expect } from 'chai';
import type { WorkloadResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { RestartAnnotation } from '../../src/domain/restart-on-rotation.js';
import type { WorkloadKey, WorkloadKind } from '../../src/domain/workload.js';
import type { WorkloadStore } from '../../src/ports/workload-store.js';
import { aDaemonSetResource, aDeploymentResource, aStatefulSetResource } from '../support/workload-builders.js';
import { eventually } from './eventually.js';

export interface WorkloadStoreFixture {
  readonly store: WorkloadStore;
  readonly namespace: string;
  /** Creates (or replaces the spec and metadata of) a workload; resolves once the store's `get` reflects it. */
  putWorkload(object: WorkloadResource): Promise<WorkloadResource>;
  /** Writes the workload's status (as its controller would); resolves once `get` reflects it. */
  putStatus(kind: WorkloadKind, namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  deleteWorkload(kind: WorkloadKind, namespace: string, name: string): Promise<void>;
  /** The workload as stored, read past the store. */
  readWorkload(kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadResource | undefined>;
  close(): Promise<void>;
}

/** The WorkloadStore port contract. */
export function workloadStoreContract(makeFixture: () => Promise<WorkloadStoreFixture>): void {
  describe('WorkloadStore contract', () => {
    let fixture: WorkloadStoreFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    const key = (kind: WorkloadKind, name: string): WorkloadKey => ({ kind, namespace, name });

    it('resolves undefined for a workload that does not exist', async () => {
      expect(await fixture.store.get(key('Deployment', 'nothing'))).to.equal(undefined);
    });

    it('reads each kind with its opt-in annotation, template annotations and the Secrets its template reads', async () => {
      const annotations = { [RestartAnnotation.restartOnRotation]: 'mount' };
      await fixture.putWorkload(aDeploymentResource({ namespace, name: 'web', annotations, templateAnnotations: { a: '1' }, secretNames: ['env-secret', 'envfrom-secret', 'vol-secret'] }));
      await fixture.putWorkload(aStatefulSetResource({ namespace, name: 'db', annotations }));
      await fixture.putWorkload(aDaemonSetResource({ namespace, name: 'agent' }));
      const web = await fixture.store.get(key('Deployment', 'web'));
      expect(web).to.deep.include({ key: key('Deployment', 'web'), annotations, templateAnnotations: { a: '1' }, secretNames: ['env-secret', 'envfrom-secret', 'vol-secret'] });
      expect(web!.uid).to.be.a('string').and.not.equal('');
      expect(web!.generation).to.equal(1);
      expect((await fixture.store.get(key('StatefulSet', 'db')))?.rollout.kind).to.equal('StatefulSet');
      expect((await fixture.store.get(key('DaemonSet', 'agent')))?.rollout.kind).to.equal('DaemonSet');
      const listed = (await fixture.store.list()).filter((workload) => workload.key.namespace === namespace).map((workload) => `${workload.key.kind}/${workload.key.name}`);
      expect(listed.sort()).to.deep.equal(['DaemonSet/agent', 'Deployment/web', 'StatefulSet/db']);
    });

    it('reads the rollout status the controllers write', async () => {
      await fixture.putWorkload(aDeploymentResource({ namespace, name: 'web', replicas: 3 }));
      await fixture.putStatus('Deployment', namespace, 'web', { observedGeneration: 1, replicas: 4, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 1 });
      expect((await fixture.store.get(key('Deployment', 'web')))?.rollout).to.deep.equal({
        kind: 'Deployment',
        paused: false,
        replicas: 3,
        observedGeneration: 1,
        statusReplicas: 4,
        updatedReplicas: 2,
        availableReplicas: 1,
      });
    });

    it('sets pod template annotations, keeping the others, which changes the spec (the pods roll)', async () => {
      await fixture.putWorkload(aDeploymentResource({ namespace, name: 'web', templateAnnotations: { keep: 'me' } }));
      const before = (await fixture.store.get(key('Deployment', 'web')))!;
      expect(await fixture.store.setTemplateAnnotations(before, { [RestartAnnotation.restartedFor]: 'abc' })).to.equal('written');
      const stored = await fixture.readWorkload('Deployment', namespace, 'web');
      expect(stored?.spec?.template?.metadata?.annotations).to.deep.equal({ keep: 'me', [RestartAnnotation.restartedFor]: 'abc' });
      expect(stored?.metadata.generation).to.equal(2);
      await eventually(async () => expect((await fixture.store.get(key('Deployment', 'web')))?.templateAnnotations).to.include({ [RestartAnnotation.restartedFor]: 'abc' }), 10_000, 20);
    });

    it('writes nothing over a workload that changed since it was read, and says so', async () => {
      await fixture.putWorkload(aStatefulSetResource({ namespace, name: 'db' }));
      const stale = (await fixture.store.get(key('StatefulSet', 'db')))!;
      await fixture.putWorkload(aStatefulSetResource({ namespace, name: 'db', annotations: { touched: 'yes' } }));
      expect(await fixture.store.setTemplateAnnotations(stale, { [RestartAnnotation.restartedFor]: 'abc' })).to.equal('conflict');
      expect((await fixture.readWorkload('StatefulSet', namespace, 'db'))?.spec?.template?.metadata?.annotations?.[RestartAnnotation.restartedFor]).to.equal(undefined);
    });

    it('says a deleted workload is gone', async () => {
      await fixture.putWorkload(aDaemonSetResource({ namespace, name: 'agent' }));
      const read = (await fixture.store.get(key('DaemonSet', 'agent')))!;
      await fixture.deleteWorkload('DaemonSet', namespace, 'agent');
      expect(await fixture.store.setTemplateAnnotations(read, { [RestartAnnotation.restartedFor]: 'abc' })).to.equal('gone');
    });

    it('tells listeners of an added, a changed and a deleted workload, after get reflects each', async () => {
      const heard: string[] = [];
      const stop = fixture.store.onChange((changed) => {
        if (changed.namespace !== namespace) return;
        void fixture.store.get(changed).then((workload) => heard.push(`${changed.kind}/${changed.name} ${workload?.annotations['n'] ?? 'gone'}`));
      });
      try {
        await fixture.putWorkload(aDeploymentResource({ namespace, name: 'web', annotations: { n: '1' } }));
        await fixture.putWorkload(aDeploymentResource({ namespace, name: 'web', annotations: { n: '2' } }));
        await fixture.deleteWorkload('Deployment', namespace, 'web');
        await eventually(() => expect(heard).to.deep.equal(['Deployment/web 1', 'Deployment/web 2', 'Deployment/web gone']), 10_000, 20);
      } finally {
        stop();
      }
    });
  });
}
