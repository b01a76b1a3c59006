import type { Clock } from '../../ports/clock.js';
import type { EventRecorder, PodEvent, WorkloadEvent } from '../../ports/event-recorder.js';
import type { Logger } from '../../ports/logger.js';
import { boundedEvent, eventName, eventSubject, involvedObjectOf, toEventResource } from '../kube-objects/event-mapping.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';
import { apiFailure } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesEventRecorderOptions {
  readonly client: KubernetesClient;
  readonly clock: Clock;
  /** Reported as `source.host` / `reportingInstance`, as upstream does. */
  readonly nodeName?: string;
  readonly logger?: Logger;
  /** `source.component` (default: the driver's). */
  readonly component?: string;
  /** How many recent events are remembered for counting repeats (client-go keeps 4096). */
  readonly rememberedEvents?: number;
}

interface Recorded {
  readonly namespace: string;
  readonly name: string;
  count: number;
}

/**
 * Records core/v1 Events on pods and workloads through the API server. A repeat of an event this recorder wrote
 * recently bumps `count` and `lastTimestamp` of that Event (merge patch) instead of adding another,
 * like client-go's event correlator; if that Event is gone a new one is created. Never rejects: a
 * refused write is logged as a warning and the event is lost.
 */
export class KubernetesEventRecorder implements EventRecorder {
  private readonly recent = new Map<string, Recorded>();
  /** Keeps names unique when several events share one clock reading. */
  private sequence = 0;

  constructor(private readonly options: KubernetesEventRecorderOptions) {}

  async record(event: PodEvent | WorkloadEvent): Promise<void> {
    try {
      await this.recordNow(boundedEvent(event));
    } catch (error) {
      this.options.logger?.warn('could not record event', {
        reason: event?.reason,
        object: eventSubject(event),
        error: apiFailure(error).message,
      });
    }
  }

  private async recordNow(event: PodEvent | WorkloadEvent): Promise<void> {
    const now = this.options.clock.now();
    const object = involvedObjectOf(event);
    const key = JSON.stringify([object.kind, object.namespace, object.uid, object.name, event.type, event.reason, event.message]);
    const repeated = this.recent.get(key);
    if (repeated !== undefined && (await this.bump(repeated, now))) {
      this.remember(key, repeated);
      return;
    }
    const { namespace } = object;
    const name = eventName(object.name, now, this.sequence++);
    const { nodeName, component } = this.options;
    const body = toEventResource(event, { name, timeMs: now, ...(nodeName ? { nodeName } : {}), ...(component ? { component } : {}) });
    await this.options.client.api.create(apiPaths.events(namespace), body);
    this.remember(key, { namespace, name, count: 1 });
  }

  /** Counts a repeat on the existing Event; false when it is gone (the caller creates a new one). */
  private async bump(recorded: Recorded, now: number): Promise<boolean> {
    try {
      await this.options.client.api.mergePatch(apiPaths.event(recorded.namespace, recorded.name), {
        count: recorded.count + 1,
        lastTimestamp: toKubeTime(now),
      });
      recorded.count += 1;
      return true;
    } catch (error) {
      if (apiFailure(error).code === 404) return false;
      throw error;
    }
  }

  /** Most recent last; the oldest is forgotten beyond the limit. */
  private remember(key: string, recorded: Recorded): void {
    this.recent.delete(key);
    this.recent.set(key, recorded);
    const limit = this.options.rememberedEvents ?? 4096;
    while (this.recent.size > limit) this.recent.delete(this.recent.keys().next().value!);
  }
}
