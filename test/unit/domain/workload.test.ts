import { expect } from 'chai';
import { rolloutInProgress, type RolloutStatus } from '../../../src/domain/workload.js';
import { aCompleteRollout } from '../../support/workload-builders.js';

const statefulSet = (overrides: Partial<Extract<RolloutStatus, { kind: 'StatefulSet' }>> = {}): RolloutStatus => ({
  kind: 'StatefulSet',
  onDelete: false,
  replicas: 3,
  partition: 0,
  observedGeneration: 2,
  readyReplicas: 3,
  updatedReplicas: 3,
  currentRevision: 'db-2',
  updateRevision: 'db-2',
  ...overrides,
});

const daemonSet = (overrides: Partial<Extract<RolloutStatus, { kind: 'DaemonSet' }>> = {}): RolloutStatus => ({
  kind: 'DaemonSet',
  onDelete: false,
  observedGeneration: 2,
  desiredNumberScheduled: 4,
  updatedNumberScheduled: 4,
  numberAvailable: 4,
  ...overrides,
});

describe('domain/workload rolloutInProgress (the rules of kubectl rollout status)', () => {
  const cases: [string, RolloutStatus, RegExp | undefined][] = [
    ['a complete Deployment rollout', aCompleteRollout(), undefined],
    ['a Deployment whose controller has not seen the new spec', aCompleteRollout({ observedGeneration: 1 }), /not yet observed/],
    ['a Deployment with pods still to update', aCompleteRollout({ updatedReplicas: 1 }), /1 of 3 pods updated/],
    ['a Deployment with old pods still running', aCompleteRollout({ statusReplicas: 4 }), /1 old pods pending termination/],
    ['a Deployment whose new pods are not available yet', aCompleteRollout({ availableReplicas: 2 }), /2 of 3 updated pods available/],
    ['a scaled-down Deployment (more updated than wanted is no rollout)', aCompleteRollout({ replicas: 1, statusReplicas: 1, updatedReplicas: 1, availableReplicas: 1 }), undefined],
    ['a complete StatefulSet rollout', statefulSet(), undefined],
    ['a StatefulSet with pods not ready', statefulSet({ readyReplicas: 2 }), /2 of 3 pods ready/],
    ['a StatefulSet on the previous revision', statefulSet({ currentRevision: 'db-1' }), /previous revision/],
    ['a StatefulSet with a partition, updated above it', statefulSet({ partition: 2, updatedReplicas: 1, currentRevision: 'db-1' }), undefined],
    ['a StatefulSet with a partition, not yet updated above it', statefulSet({ partition: 1, updatedReplicas: 1 }), /1 of 2 pods updated \(partition 1\)/],
    ['an OnDelete StatefulSet (its controller replaces no pods)', statefulSet({ onDelete: true, currentRevision: 'db-1', readyReplicas: 0 }), undefined],
    ['an OnDelete StatefulSet whose spec is not yet observed', statefulSet({ onDelete: true, observedGeneration: 1 }), /not yet observed/],
    ['a complete DaemonSet rollout', daemonSet(), undefined],
    ['a DaemonSet with nodes still to update', daemonSet({ updatedNumberScheduled: 3 }), /3 of 4 pods updated/],
    ['a DaemonSet with updated pods not available', daemonSet({ numberAvailable: 3 }), /3 of 4 pods available/],
    ['an OnDelete DaemonSet', daemonSet({ onDelete: true, updatedNumberScheduled: 0 }), undefined],
  ];
  for (const [name, rollout, expected] of cases) {
    it(`${expected === undefined ? 'no rollout' : 'in progress'}: ${name}`, () => {
      const reason = rolloutInProgress(2, rollout);
      if (expected === undefined) expect(reason).to.equal(undefined);
      else expect(reason).to.match(expected);
    });
  }
});
