import type { EventReasonName, EventType } from '../domain/events.js';

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

/** Records core/v1 Events on pods. Contract: best effort, never rejects (a lost event is logged). */
export interface EventRecorder {
  record(event: PodEvent): Promise<void>;
}
export const EventRecorder = Symbol.for('EventRecorder');
