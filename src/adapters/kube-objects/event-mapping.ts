import { MessageCap, truncateText } from '../../domain/bounded-text.js';
import type { PodEvent } from '../../ports/event-recorder.js';
import { DRIVER_COMPONENT, KIND_INFO, toKubeTime, type EventResource } from './object-shapes.js';

export interface EventIdentity {
  /** Object name; client-go uses `<pod name>.<timestamp in hex>`. */
  readonly name: string;
  readonly timeMs: number;
  /** The node the driver runs on (`source.host`, `reportingInstance`); omitted when unknown. */
  readonly nodeName?: string;
  /** `source.component` / `reportingComponent`: the driver's unless another component reports. */
  readonly component?: string;
}

/**
 * The event as recorded: its message cut to MessageCap.event (events.k8s.io refuses a longer note, and a
 * provider's error code may be of any length). Recorders compare and store this form only.
 */
export function boundedEvent(event: PodEvent): PodEvent {
  const message = truncateText(event.message, MessageCap.event);
  return message === event.message ? event : { ...event, message };
}

/** An event as a component other than the driver reports it (kubelet's FailedMount, say): any reason. */
export type ComponentPodEvent = Omit<PodEvent, 'reason'> & { readonly reason: string };

/** A PodEvent -> a core/v1 Event on the Pod, shaped like the ones client-go's recorder writes. */
export function toEventResource(event: ComponentPodEvent, identity: EventIdentity): EventResource {
  const time = toKubeTime(identity.timeMs);
  const component = identity.component ?? DRIVER_COMPONENT;
  const host = identity.nodeName ? { host: identity.nodeName } : {};
  return {
    apiVersion: KIND_INFO.Event.apiVersion,
    kind: 'Event',
    metadata: { name: identity.name, namespace: event.pod.namespace },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: event.pod.namespace,
      name: event.pod.name,
      uid: event.pod.uid,
    },
    reason: event.reason,
    message: event.message,
    type: event.type,
    source: { component, ...host },
    count: 1,
    firstTimestamp: time,
    lastTimestamp: time,
    reportingComponent: component,
    ...(identity.nodeName ? { reportingInstance: identity.nodeName } : {}),
  };
}

/** client-go's event name: the pod name plus the event time in nanoseconds, hex. */
export function eventName(podName: string, timeMs: number, sequence = 0): string {
  const nanos = BigInt(Math.floor(timeMs)) * 1_000_000n + BigInt(sequence);
  return `${podName}.${nanos.toString(16)}`;
}

/** True when `existing` is the same event as `event` (client-go aggregates those into one, counting). */
export function isSameEvent(existing: EventResource, event: PodEvent): boolean {
  return (
    existing.involvedObject.uid === event.pod.uid &&
    existing.involvedObject.name === event.pod.name &&
    existing.reason === event.reason &&
    existing.type === event.type &&
    existing.message === event.message &&
    existing.source?.component === DRIVER_COMPONENT
  );
}
