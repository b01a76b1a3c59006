import { compareStrings } from '../../domain/object-versions.js';
import type { RolloutStatus, Workload } from '../../domain/workload.js';
import type { PodOwner } from '../../ports/pod-owners.js';
import type { OwnerReferenceShape, PodResource, PodTemplateShape, ReplicaSetResource, UpdateStrategyShape, WorkloadResource } from './object-shapes.js';

/** A Deployment, StatefulSet or DaemonSet as the restarter sees it. */
export function toWorkload(object: WorkloadResource): Workload {
  return {
    key: { kind: object.kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name },
    uid: object.metadata.uid ?? '',
    resourceVersion: object.metadata.resourceVersion ?? '',
    generation: object.metadata.generation ?? 0,
    annotations: { ...object.metadata.annotations },
    templateAnnotations: { ...object.spec?.template?.metadata?.annotations },
    secretNames: templateSecretNames(object.spec?.template),
    rollout: toRolloutStatus(object),
  };
}

function toRolloutStatus(object: WorkloadResource): RolloutStatus {
  const observedGeneration = object.status?.observedGeneration ?? 0;
  switch (object.kind) {
    case 'Deployment': {
      const status = object.status ?? {};
      return {
        kind: 'Deployment',
        paused: object.spec?.paused === true,
        replicas: object.spec?.replicas ?? 1,
        observedGeneration,
        statusReplicas: status.replicas ?? 0,
        updatedReplicas: status.updatedReplicas ?? 0,
        availableReplicas: status.availableReplicas ?? 0,
      };
    }
    case 'StatefulSet': {
      const status = object.status ?? {};
      return {
        kind: 'StatefulSet',
        onDelete: isOnDelete(object.spec?.updateStrategy),
        replicas: object.spec?.replicas ?? 1,
        partition: object.spec?.updateStrategy?.rollingUpdate?.partition ?? 0,
        observedGeneration,
        readyReplicas: status.readyReplicas ?? 0,
        updatedReplicas: status.updatedReplicas ?? 0,
        currentRevision: status.currentRevision ?? '',
        updateRevision: status.updateRevision ?? '',
      };
    }
    case 'DaemonSet': {
      const status = object.status ?? {};
      return {
        kind: 'DaemonSet',
        onDelete: isOnDelete(object.spec?.updateStrategy),
        observedGeneration,
        desiredNumberScheduled: status.desiredNumberScheduled ?? 0,
        updatedNumberScheduled: status.updatedNumberScheduled ?? 0,
        numberAvailable: status.numberAvailable ?? 0,
      };
    }
  }
}

function isOnDelete(strategy: UpdateStrategyShape | undefined): boolean {
  return strategy?.type === 'OnDelete';
}

/** Every Secret a pod template names: container env and envFrom (init containers too), secret and projected volumes. */
export function templateSecretNames(template: PodTemplateShape | undefined): string[] {
  const spec = template?.spec ?? {};
  const names = new Set<string>();
  const add = (name: string | undefined): void => {
    if (name) names.add(name);
  };
  for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const variable of container.env ?? []) add(variable.valueFrom?.secretKeyRef?.name);
    for (const source of container.envFrom ?? []) add(source.secretRef?.name);
  }
  for (const volume of spec.volumes ?? []) {
    add(volume.secret?.secretName);
    for (const source of volume.projected?.sources ?? []) add(source.secret?.name);
  }
  return [...names].sort(compareStrings);
}

/** The owner reference marked as controller, if any. */
export function controllerOf(owners: readonly OwnerReferenceShape[] | undefined): OwnerReferenceShape | undefined {
  return (owners ?? []).find((owner) => owner.controller === true);
}

/**
 * The owner facts of a pod: the workload its controller stands for (a ReplicaSet's controller when that
 * is a Deployment; a StatefulSet or DaemonSet itself) and its creation time. `readReplicaSet` resolves
 * undefined for a ReplicaSet that is gone.
 */
export async function podOwner(
  pod: PodResource,
  readReplicaSet: (namespace: string, name: string) => Promise<ReplicaSetResource | undefined>,
): Promise<PodOwner> {
  const namespace = pod.metadata.namespace ?? '';
  const createdAt = Date.parse(pod.metadata.creationTimestamp ?? '');
  const owner = { createdAt: Number.isNaN(createdAt) ? 0 : createdAt };
  const controller = controllerOf(pod.metadata.ownerReferences);
  if (controller === undefined) return { ...owner, workload: undefined };
  if (controller.kind === 'StatefulSet' || controller.kind === 'DaemonSet') {
    return { ...owner, workload: { kind: controller.kind, namespace, name: controller.name } };
  }
  if (controller.kind !== 'ReplicaSet') return { ...owner, workload: undefined };
  const replicaSet = await readReplicaSet(namespace, controller.name);
  const deployment = replicaSet?.metadata.uid === controller.uid ? controllerOf(replicaSet.metadata.ownerReferences) : undefined;
  return { ...owner, workload: deployment?.kind === 'Deployment' ? { kind: 'Deployment', namespace, name: deployment.name } : undefined };
}
