/**
 * Leader election over one coordination.k8s.io Lease, by client-go's rules: the holder renews the lease
 * every retry period; a candidate takes it over once it has seen the same record unchanged for a whole
 * lease duration (measured on its own clock, so clocks need not agree) or once it was released.
 */
export interface LeaseRecord {
  /** Who holds the lease; '' once released. */
  readonly holder: string;
  readonly durationMs: number;
  readonly acquireTime: number | undefined;
  readonly renewTime: number | undefined;
  readonly transitions: number;
}

export interface LeaseTiming {
  /** How long a lease holds without renewal (client-go's LeaseDuration). */
  readonly leaseDurationMs: number;
  /** A leader that has not renewed for this long stops acting (client-go's RenewDeadline). */
  readonly renewDeadlineMs: number;
  /** Time between two attempts to acquire or renew (client-go's RetryPeriod). */
  readonly retryPeriodMs: number;
}

/** A lease as last read, and when this reader first saw that version of it. */
export interface ObservedLease {
  readonly record: LeaseRecord;
  readonly observedAt: number;
}

export type LeaseStep =
  /** Write this record (create the lease, or take it over) to lead. */
  | { readonly kind: 'acquire'; readonly record: LeaseRecord }
  /** Write this record to go on leading. */
  | { readonly kind: 'renew'; readonly record: LeaseRecord }
  /** Another holder's lease is still valid: try again later. */
  | { readonly kind: 'follow'; readonly holder: string };

export function nextLeaseStep(identity: string, observed: ObservedLease | undefined, now: number, timing: LeaseTiming): LeaseStep {
  if (observed === undefined) {
    return { kind: 'acquire', record: { holder: identity, durationMs: timing.leaseDurationMs, acquireTime: now, renewTime: now, transitions: 0 } };
  }
  const { record } = observed;
  if (record.holder === identity) return { kind: 'renew', record: { ...record, durationMs: timing.leaseDurationMs, renewTime: now } };
  const expired = record.holder === '' || now >= observed.observedAt + record.durationMs;
  if (!expired) return { kind: 'follow', holder: record.holder };
  return {
    kind: 'acquire',
    record: { holder: identity, durationMs: timing.leaseDurationMs, acquireTime: now, renewTime: now, transitions: record.transitions + 1 },
  };
}

/** A leader that last renewed at `lastRenewal` must stop acting now (another may take over once the lease expires). */
export function leadershipLost(lastRenewal: number, now: number, timing: LeaseTiming): boolean {
  return now - lastRenewal >= timing.renewDeadlineMs;
}

/** What a leader writes when it stops on purpose, so a successor need not wait for the lease to expire. */
export function releasedLease(record: LeaseRecord, now: number): LeaseRecord {
  return { ...record, holder: '', durationMs: 1000, acquireTime: now, renewTime: now };
}

/** Why a timing cannot work (client-go's checks), or undefined. */
export function leaseTimingProblem(timing: LeaseTiming): string | undefined {
  if (!(timing.retryPeriodMs > 0)) return 'the retry period must be greater than zero';
  if (timing.renewDeadlineMs <= timing.retryPeriodMs * 1.2) return 'the renew deadline must be longer than 1.2 x the retry period';
  if (timing.leaseDurationMs <= timing.renewDeadlineMs) return 'the lease duration must be longer than the renew deadline';
  return undefined;
}
