import type { StringMap } from './volume-binding.js';

/** The workload kinds whose pods can be restarted by changing their pod template. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export function isWorkloadKind(kind: string): kind is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

export interface WorkloadKey {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** `Deployment ns/web`: how logs and events name a workload. */
export function workloadName(key: WorkloadKey): string {
  return `${key.kind} ${key.namespace}/${key.name}`;
}

export function sameWorkload(a: WorkloadKey, b: WorkloadKey): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

/** What the controllers report about a workload's rollout, by kind (the fields `kubectl rollout status` reads). */
export type RolloutStatus =
  | {
      readonly kind: 'Deployment';
      readonly paused: boolean;
      /** spec.replicas (the API server defaults it to 1). */
      readonly replicas: number;
      readonly observedGeneration: number;
      readonly statusReplicas: number;
      readonly updatedReplicas: number;
      readonly availableReplicas: number;
    }
  | {
      readonly kind: 'StatefulSet';
      readonly onDelete: boolean;
      readonly replicas: number;
      /** spec.updateStrategy.rollingUpdate.partition: pods below this ordinal keep the old revision. */
      readonly partition: number;
      readonly observedGeneration: number;
      readonly readyReplicas: number;
      readonly updatedReplicas: number;
      readonly currentRevision: string;
      readonly updateRevision: string;
    }
  | {
      readonly kind: 'DaemonSet';
      readonly onDelete: boolean;
      readonly observedGeneration: number;
      readonly desiredNumberScheduled: number;
      readonly updatedNumberScheduled: number;
      readonly numberAvailable: number;
    };

/** A Deployment, StatefulSet or DaemonSet as far as restarting its pods goes. */
export interface Workload {
  readonly key: WorkloadKey;
  readonly uid: string;
  /** Opaque version of the stored object (resourceVersion): a conditional write names the version it read. */
  readonly resourceVersion: string;
  readonly generation: number;
  /** metadata.annotations: where a workload opts in. */
  readonly annotations: StringMap;
  /** spec.template.metadata.annotations: where a restart is recorded (changing them rolls the pods). */
  readonly templateAnnotations: StringMap;
  /** Names of the Secrets its pod template reads (env, envFrom, secret and projected volumes). */
  readonly secretNames: readonly string[];
  readonly rollout: RolloutStatus;
}

/**
 * Why a rollout of the workload is under way, or undefined when it is complete, by the rules
 * `kubectl rollout status` applies. A rollout that never completes (stuck, or pods that never become
 * ready) counts as under way: restarting on top of it would not help. With the OnDelete strategy the
 * controllers do not replace pods, so there is no rollout to wait for.
 */
export function rolloutInProgress(generation: number, rollout: RolloutStatus): string | undefined {
  if (rollout.observedGeneration < generation) return 'the controller has not yet observed the latest spec';
  switch (rollout.kind) {
    case 'Deployment':
      if (rollout.updatedReplicas < rollout.replicas) return `${rollout.updatedReplicas} of ${rollout.replicas} pods updated`;
      if (rollout.statusReplicas > rollout.updatedReplicas) return `${rollout.statusReplicas - rollout.updatedReplicas} old pods pending termination`;
      if (rollout.availableReplicas < rollout.updatedReplicas) return `${rollout.availableReplicas} of ${rollout.updatedReplicas} updated pods available`;
      return undefined;
    case 'StatefulSet': {
      if (rollout.onDelete) return undefined;
      if (rollout.readyReplicas < rollout.replicas) return `${rollout.readyReplicas} of ${rollout.replicas} pods ready`;
      if (rollout.partition > 0) {
        const expected = rollout.replicas - rollout.partition;
        return rollout.updatedReplicas < expected ? `${rollout.updatedReplicas} of ${expected} pods updated (partition ${rollout.partition})` : undefined;
      }
      return rollout.updateRevision !== rollout.currentRevision ? 'pods still run the previous revision' : undefined;
    }
    case 'DaemonSet':
      if (rollout.onDelete) return undefined;
      if (rollout.updatedNumberScheduled < rollout.desiredNumberScheduled) {
        return `${rollout.updatedNumberScheduled} of ${rollout.desiredNumberScheduled} pods updated`;
      }
      if (rollout.numberAvailable < rollout.desiredNumberScheduled) return `${rollout.numberAvailable} of ${rollout.desiredNumberScheduled} pods available`;
      return undefined;
  }
}
