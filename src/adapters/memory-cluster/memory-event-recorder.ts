import type { Clock } from '../../ports/clock.js';
import type { EventRecorder, PodEvent, WorkloadEvent } from '../../ports/event-recorder.js';
import type { Logger } from '../../ports/logger.js';
import { boundedEvent, eventName, eventSubject, involvedObjectOf, isSameEvent, toEventResource } from '../kube-objects/event-mapping.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';
import type { InMemoryCluster } from './cluster-store.js';

export interface MemoryEventRecorderOptions {
  /** Reported as `source.host` / `reportingInstance`, as upstream does. */
  readonly nodeName?: string;
  /** Where a lost event is reported. */
  readonly logger?: Logger;
  /** `source.component` (default: the driver's). */
  readonly component?: string;
}

/**
 * Records core/v1 Events on pods and workloads into the in-memory cluster. A repeat of an identical event bumps
 * `count` and `lastTimestamp` of the existing one, like client-go's event correlator. Never rejects.
 */
export class MemoryEventRecorder implements EventRecorder {
  /** Keeps names unique when several events share one clock reading. */
  private sequence = 0;

  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly clock: Clock,
    private readonly options: MemoryEventRecorderOptions = {},
  ) {}

  async record(event: PodEvent | WorkloadEvent): Promise<void> {
    try {
      this.recordNow(boundedEvent(event));
    } catch (error) {
      this.options.logger?.warn('could not record event', {
        reason: event?.reason,
        object: eventSubject(event),
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private recordNow(event: PodEvent | WorkloadEvent): void {
    const now = this.clock.now();
    const { namespace, name: objectName } = involvedObjectOf(event);
    const component = this.options.component;
    const repeated = this.cluster.list('Event', { namespace }).find((existing) => isSameEvent(existing, event, component));
    if (repeated !== undefined) {
      this.cluster.patch('Event', namespace, repeated.metadata.name, {
        count: (repeated.count ?? 1) + 1,
        lastTimestamp: toKubeTime(now),
      });
      return;
    }
    const name = eventName(objectName, now, this.sequence++);
    this.cluster.create(toEventResource(event, { name, timeMs: now, nodeName: this.options.nodeName, component }));
  }
}
