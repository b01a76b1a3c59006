import type { EventReasonName, EventType } from '../domain/events.js';
import type { WorkloadKey } from '../domain/workload.js';

export interface PodReference {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface PodEvent {
  readonly pod: PodReference;
  readonly type: EventType;
  readonly reason: EventReasonName;
  /** Human-readable; never contains secret material. Recorded cut to MessageCap.event bytes, with a marker. */
  readonly message: string;
}

/** An event on a Deployment, StatefulSet or DaemonSet (the restarter's). */
export interface WorkloadEvent {
  readonly workload: WorkloadKey & { readonly uid: string };
  readonly type: EventType;
  readonly reason: EventReasonName;
  /** Human-readable; never contains secret material. */
  readonly message: string;
}

/** Records core/v1 Events on pods and workloads. Contract: best effort, never rejects (a lost event is logged). */
export interface EventRecorder {
  record(event: PodEvent | WorkloadEvent): Promise<void>;
}
export const EventRecorder = Symbol.for('EventRecorder');
