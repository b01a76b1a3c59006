import { describeError } from '../domain/errors.js';
import type { StoredPodStatus } from '../domain/pod-status.js';
import { recoveredBinding, recoveryFinding } from '../domain/restart-recovery.js';
import { parseTargetPath } from '../domain/target-path.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PodSource } from '../ports/pod-source.js';
import type { PodStatusStore } from '../ports/pod-status-store.js';
import type { SecretProviderClassSource } from '../ports/secret-provider-class-source.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';
import type { BindingRegistry } from './binding-registry.js';
import type { RotationReconciler } from './rotation-reconciler.js';
import type { TargetLocks } from './target-locks.js';

/** One pod status record and what recovery made of it. */
export interface RecoveredTarget {
  readonly target: string;
  /** `<namespace>/<name>` of the pod the record names. */
  readonly pod: string;
  readonly className: string;
  /** Why the record landed where it did ('' for a plain recovery). */
  readonly reason: string;
}

export interface RecoveryReport {
  /** Bindings rebuilt and handed to the rotation loop (the reason notes a class that is missing). */
  readonly recovered: readonly RecoveredTarget[];
  /** Mounted targets whose pod is gone or replaced; left to kubelet's cleanup. */
  readonly orphaned: readonly RecoveredTarget[];
  /** Records of targets where nothing is mounted. */
  readonly stale: readonly RecoveredTarget[];
  /** Records that could not be turned into a binding (a pod volume that does not match, a bad target path, a failed lookup); they resume at kubelet's next publish. */
  readonly unrecoverable: readonly RecoveredTarget[];
  /** Targets kubelet published (or was publishing) before recovery reached them. */
  readonly alreadyPublished: readonly string[];
}

type Placement = Exclude<keyof RecoveryReport, 'alreadyPublished'>;
type Verdict = { readonly kind: Placement; readonly reason: string } | { readonly kind: 'alreadyPublished' };

/** The log line of a record with a reason (a recovery has one only when its class is missing). */
const NOTICES: Readonly<Record<Placement, { readonly level: 'debug' | 'warn'; readonly message: string }>> = {
  recovered: { level: 'warn', message: 'recovered a mount whose class is missing' },
  orphaned: { level: 'warn', message: 'orphaned mount: its pod is gone; kubelet unmounts it' },
  stale: { level: 'debug', message: 'pod status record of a target where nothing is mounted' },
  unrecoverable: { level: 'warn', message: 'cannot resume rotation of a mount until kubelet publishes it again' },
};

/**
 * Restart recovery: rebuilds the bindings of this node's mounts from its pod status records, so
 * rotation resumes without a kubelet call. It only reads and registers: orphaned mounts are reported,
 * never removed (kubelet's own cleanup unmounts the volumes of pods that are gone).
 */
export class RecoverBindings {
  constructor(
    private readonly nodeName: string,
    private readonly kubeletRoot: string,
    private readonly statuses: PodStatusStore,
    private readonly pods: PodSource,
    private readonly classes: SecretProviderClassSource,
    private readonly mounter: VolumeMounter,
    private readonly registry: BindingRegistry,
    private readonly locks: TargetLocks,
    private readonly reconciler: RotationReconciler,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async execute(): Promise<RecoveryReport> {
    const report: Record<Placement, RecoveredTarget[]> & { alreadyPublished: string[] } = { recovered: [], orphaned: [], stale: [], unrecoverable: [], alreadyPublished: [] };
    for (const status of await this.statuses.listByNode(this.nodeName)) {
      const verdict = await this.recover(status).catch((error: unknown): Verdict => ({ kind: 'unrecoverable', reason: describeError(error) }));
      if (verdict.kind === 'alreadyPublished') {
        report.alreadyPublished.push(status.targetPath);
        continue;
      }
      const { namespace, podName, secretProviderClassName: className, targetPath: target } = status;
      const entry: RecoveredTarget = { target, pod: `${namespace}/${podName}`, className, reason: verdict.reason };
      const notice = NOTICES[verdict.kind];
      if (entry.reason) this.logger[notice.level](notice.message, { ...entry });
      report[verdict.kind].push(entry);
    }
    this.logger.info('restart recovery done', Object.fromEntries(Object.entries(report).map(([kind, entries]) => [kind, entries.length])));
    return report;
  }

  /** Holds the target as a rotation check would, so a kubelet call that came first wins. */
  private async recover(status: StoredPodStatus): Promise<Verdict> {
    const target = parseTargetPath(status.targetPath, this.kubeletRoot);
    const verdict = await this.locks.tryRun(target.path, async (): Promise<Verdict> => {
      if (this.registry.get(target.path) !== undefined) return { kind: 'alreadyPublished' };
      await this.mounter.checkTarget(target);
      const pod = await this.pods.get(status.namespace, status.podName);
      const targetMounted = await this.mounter.isMounted(target.path);
      const mountGroup = targetMounted ? await this.mounter.mountGroup(target.path) : undefined;
      const finding = recoveryFinding({ status, target, targetMounted, pod, mountGroup });
      if (finding.kind !== 'recovered') return finding;
      const spc = await this.classes.get(status.namespace, status.secretProviderClassName);
      this.reconciler.adopt(recoveredBinding(finding.request, status, spc?.provider ?? '', this.clock.now()), spc, finding.pod);
      return { kind: 'recovered', reason: spc ? '' : `class ${status.namespace}/${status.secretProviderClassName} not found: checks fail until it exists again` };
    });
    return verdict ?? { kind: 'alreadyPublished' };
  }
}
