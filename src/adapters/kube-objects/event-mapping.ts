import { MessageCap, truncateText } from '../../domain/bounded-text.js';
import type { PodEvent, WorkloadEvent } from '../../ports/event-recorder.js';
import { DRIVER_COMPONENT, KIND_INFO, toKubeTime, type EventResource } from './object-shapes.js';

export interface EventIdentity {
  /** Object name; client-go uses `<object name>.<timestamp in hex>`. */
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
export function boundedEvent<E extends PodEvent | WorkloadEvent>(event: E): E {
  const message = truncateText(event.message, MessageCap.event);
  return message === event.message ? event : { ...event, message };
}

/** An event as a component other than the driver reports it (kubelet's FailedMount, say): any reason. */
export type ComponentPodEvent = Omit<PodEvent, 'reason'> & { readonly reason: string };

/** The object an event is about, as `involvedObject` names it. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export function involvedObjectOf(event: ComponentPodEvent | WorkloadEvent): InvolvedObject {
  if ('pod' in event) return { apiVersion: 'v1', kind: 'Pod', ...event.pod };
  const { kind, namespace, name, uid } = event.workload;
  return { apiVersion: 'apps/v1', kind, namespace, name, uid };
}

/** `Pod ns/name` or `Deployment ns/name`, for a log line about an event (never throws, even for a malformed event). */
export function eventSubject(event: PodEvent | WorkloadEvent | undefined): string {
  const object = event === undefined || event === null ? undefined : 'pod' in event ? { kind: 'Pod', ...event.pod } : event.workload;
  return object ? `${object.kind} ${object.namespace}/${object.name}` : 'unknown';
}

/**
 * An event -> a core/v1 Event on its object, shaped like the ones client-go's recorder writes; the message
 * cut to MessageCap.event whoever reports it (kubelet's FailedMount quotes the driver's answer and the pod's names).
 */
export function toEventResource(event: ComponentPodEvent | WorkloadEvent, identity: EventIdentity): EventResource {
  const time = toKubeTime(identity.timeMs);
  const component = identity.component ?? DRIVER_COMPONENT;
  const host = identity.nodeName ? { host: identity.nodeName } : {};
  const involvedObject = involvedObjectOf(event);
  return {
    apiVersion: KIND_INFO.Event.apiVersion,
    kind: 'Event',
    metadata: { name: identity.name, namespace: involvedObject.namespace },
    involvedObject: { ...involvedObject },
    reason: event.reason,
    message: truncateText(event.message, MessageCap.event),
    type: event.type,
    source: { component, ...host },
    count: 1,
    firstTimestamp: time,
    lastTimestamp: time,
    reportingComponent: component,
    ...(identity.nodeName ? { reportingInstance: identity.nodeName } : {}),
  };
}

/** client-go's event name: the object name plus the event time in nanoseconds, hex. */
export function eventName(objectName: string, timeMs: number, sequence = 0): string {
  const nanos = BigInt(Math.floor(timeMs)) * 1_000_000n + BigInt(sequence);
  return `${objectName}.${nanos.toString(16)}`;
}

/** True when `existing` is the same event as `event` from the same component (client-go aggregates those into one, counting). */
export function isSameEvent(existing: EventResource, event: PodEvent | WorkloadEvent, component = DRIVER_COMPONENT): boolean {
  const object = involvedObjectOf(event);
  return (
    existing.involvedObject.uid === object.uid &&
    existing.involvedObject.name === object.name &&
    existing.involvedObject.kind === object.kind &&
    existing.reason === event.reason &&
    existing.type === event.type &&
    existing.message === event.message &&
    existing.source?.component === component
  );
}
