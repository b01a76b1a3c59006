import { MessageCap, truncateText } from './bounded-text.js';
import type { ObjectVersion } from './object-versions.js';

export const NODE_NAME_LABEL = 'internal.secrets-store.csi.k8s.io/node-name';

/** The SecretProviderClassPodStatus record: which versions are mounted for one pod x class. */
export interface PodStatus {
  readonly namespace: string;
  readonly name: string;
  readonly podName: string;
  readonly podUid: string;
  readonly secretProviderClassName: string;
  readonly mounted: boolean;
  readonly targetPath: string;
  readonly nodeName: string;
  readonly objects: readonly ObjectVersion[];
  /** Rotation fields beyond upstream's; absent when none is known yet. */
  readonly rotation?: RotationReport;
}

/** What the status tells about rotation of the mount (epoch milliseconds). */
export interface RotationReport {
  /** The last time a check changed the mounted contents. */
  readonly lastRotationTime?: number;
  /** Why the last check failed (at most MessageCap.podStatus bytes); absent after a check that succeeded. Never holds secret material. */
  readonly lastRotationError?: string;
  /** When the next check was planned as the status was written. */
  readonly nextRotationTime?: number;
}

/** A stored pod status, with the identity the store gave it (owner of Secrets synced for a bare pod). */
export interface StoredPodStatus extends PodStatus {
  readonly uid: string;
}

/** `<podName>-<namespace>-<spcName>`, the name upstream gives the object (users look it up by it). */
export function podStatusName(podName: string, namespace: string, className: string): string {
  return `${podName}-${namespace}-${className}`;
}

/** What a rotation check found, as far as the status report is concerned. */
export type CheckFinding =
  | { readonly kind: 'changed' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * The report to write after a check, or undefined when the status must not be written for it: a
 * check that changes nothing (and clears no error) and a failure already reported with the same reason
 * write nothing, so a quiet node makes no API writes however often it checks. A failure's reason is cut
 * to MessageCap.podStatus: a provider's megabyte error code must not grow the object.
 */
export function reportAfterCheck(previous: RotationReport, finding: CheckFinding, now: number, nextCheckAt: number): RotationReport | undefined {
  const { lastRotationTime } = previous;
  switch (finding.kind) {
    case 'changed':
      return { lastRotationTime: now, nextRotationTime: nextCheckAt };
    case 'unchanged':
      return previous.lastRotationError === undefined ? undefined : withTime(lastRotationTime, { nextRotationTime: nextCheckAt });
    case 'failed': {
      const lastRotationError = truncateText(finding.reason, MessageCap.podStatus);
      return previous.lastRotationError === lastRotationError
        ? undefined
        : withTime(lastRotationTime, { lastRotationError, nextRotationTime: nextCheckAt });
    }
  }
}

function withTime(lastRotationTime: number | undefined, report: RotationReport): RotationReport {
  return lastRotationTime === undefined ? report : { lastRotationTime, ...report };
}
