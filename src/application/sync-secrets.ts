import { describeError } from '../domain/errors.js';
import type { EventReasonName } from '../domain/events.js';
import type { ObjectVersion } from '../domain/object-versions.js';
import type { OwnerReference } from '../domain/owner-reference.js';
import { planSecretChange, withRotationMarker, type DesiredSecret } from '../domain/secret-sync-plan.js';
import type { Clock } from '../ports/clock.js';
import type { EventRecorder, PodReference } from '../ports/event-recorder.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import type { SecretSink } from '../ports/secret-sink.js';

export interface SecretSyncRequest {
  readonly providerName: string;
  readonly pod: PodReference;
  readonly secrets: readonly DesiredSecret[];
  readonly owners: readonly OwnerReference[];
  /** The object versions of the mount the data comes from (a data change records their digest on the Secret). */
  readonly objectVersions: readonly ObjectVersion[];
  /** The Warning event a failing Secret records (FailedToCreateSecret on mount, SecretRotationFailed on rotation). */
  readonly failureReason: EventReasonName;
}

export interface SecretSyncResult {
  /** Names of Secrets whose data was created or changed. */
  readonly dataChanged: readonly string[];
  /** One line per Secret that could not be synced (already recorded as an event). */
  readonly failures: readonly string[];
}

/**
 * Brings each desired Secret to its desired state: created when absent, patched only where it
 * differs, left alone when equal. One failing Secret does not stop the others; each failure becomes
 * a Warning event on the pod.
 */
export class SyncSecrets {
  constructor(
    private readonly sink: SecretSink,
    private readonly events: EventRecorder,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async execute(request: SecretSyncRequest): Promise<SecretSyncResult> {
    const started = this.clock.now();
    const dataChanged: string[] = [];
    const failures: string[] = [];
    for (const desired of request.secrets) {
      try {
        if (await this.apply(desired, request)) dataChanged.push(desired.name);
      } catch (error) {
        const message = `failed to sync Secret ${desired.namespace}/${desired.name}: ${describeError(error)}`;
        failures.push(message);
        this.logger.warn(message, { pod: `${request.pod.namespace}/${request.pod.name}` });
        await this.events.record({ pod: request.pod, type: 'Warning', reason: request.failureReason, message });
      }
    }
    this.metrics.syncK8sSecret(request.providerName, (this.clock.now() - started) / 1000);
    return { dataChanged, failures };
  }

  /** Returns true when the Secret's data was created or changed. */
  private async apply(desired: DesiredSecret, request: SecretSyncRequest, raced = false): Promise<boolean> {
    const current = await this.sink.get(desired.namespace, desired.name);
    const change = withRotationMarker(planSecretChange(desired, request.owners, current), request.objectVersions, this.clock.now());
    switch (change.kind) {
      case 'unchanged':
        return false;
      case 'create':
        try {
          await this.sink.create(change.secret);
        } catch (error) {
          // Another writer (say a second pod of the class, published at the same moment) may have
          // created it since the read: plan once more against what is there now.
          if (raced || (await this.sink.get(desired.namespace, desired.name).catch(() => undefined)) === undefined) throw error;
          return this.apply(desired, request, true);
        }
        return true;
      case 'patch':
        await this.sink.patch(desired.namespace, desired.name, change.patch);
        return change.dataChanged;
    }
  }
}
