import { describeError } from '../domain/errors.js';
import { leadershipLost, nextLeaseStep, releasedLease, type LeaseTiming, type ObservedLease } from '../domain/leader-lease.js';
import type { CancelTimer, Clock, Scheduler } from '../ports/clock.js';
import type { LeaseStore, StoredLease } from '../ports/lease-store.js';
import type { Logger } from '../ports/logger.js';

export interface LeadershipListener {
  startedLeading(): void;
  stoppedLeading(): void;
}

/**
 * Takes part in leader election over one Lease (`nextLeaseStep` decides): tries every retry period, and
 * once leading renews as often; a leader that cannot renew within the renew deadline, or finds another
 * holder, stops leading. `stop` releases a held lease so a successor takes over without waiting.
 */
export class LeaderElector {
  private observed: (ObservedLease & { readonly version: string }) | undefined;
  private leading = false;
  private lastRenewal = 0;
  private timer: CancelTimer | undefined;
  private tick: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly leaseName: string,
    private readonly identity: string,
    private readonly timing: LeaseTiming,
    private readonly leases: LeaseStore,
    private readonly listener: LeadershipListener,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    this.timer = undefined;
    await this.tick;
    if (!this.leading) return;
    this.lose('stopping');
    const observed = this.observed;
    if (observed === undefined) return;
    try {
      await this.leases.update(this.leaseName, releasedLease(observed.record, this.clock.now()), observed.version);
    } catch (error) {
      this.logger.warn('could not release the lease; a successor waits for it to expire', { lease: this.leaseName, error: describeError(error) });
    }
  }

  private schedule(delayMs: number): void {
    this.timer = this.scheduler.after(delayMs, () => {
      this.timer = undefined;
      this.tick = this.attempt().finally(() => {
        this.tick = undefined;
        if (!this.stopped) this.schedule(this.timing.retryPeriodMs);
      });
    });
  }

  private async attempt(): Promise<void> {
    try {
      const stored = await this.leases.get(this.leaseName);
      this.observe(stored);
      const now = this.clock.now();
      const step = nextLeaseStep(this.identity, this.observed, now, this.timing);
      if (step.kind === 'follow') {
        if (this.leading) this.lose(`the lease is held by ${step.holder}`);
        return;
      }
      const written = stored === undefined ? await this.leases.create(this.leaseName, step.record) : await this.leases.update(this.leaseName, step.record, stored.version);
      if (this.stopped) return;
      if (written === undefined) return this.renewalMissed('another candidate wrote the lease first');
      this.observe(written);
      this.lastRenewal = now;
      if (!this.leading) {
        this.leading = true;
        this.logger.info('leading: this process restarts workloads now', { lease: this.leaseName, identity: this.identity });
        this.listener.startedLeading();
      }
    } catch (error) {
      this.renewalMissed(describeError(error));
    }
  }

  private observe(stored: StoredLease | undefined): void {
    if (stored === undefined) {
      this.observed = undefined;
      return;
    }
    if (this.observed?.version === stored.version) return;
    this.observed = { record: stored.record, version: stored.version, observedAt: this.clock.now() };
  }

  private renewalMissed(reason: string): void {
    if (!this.leading) return;
    if (leadershipLost(this.lastRenewal, this.clock.now(), this.timing)) this.lose(`no renewal within the renew deadline (${reason})`);
    else this.logger.warn('renewing the lease failed; retrying', { lease: this.leaseName, reason });
  }

  private lose(reason: string): void {
    this.leading = false;
    this.logger.info('stopped leading', { lease: this.leaseName, reason });
    this.listener.stoppedLeading();
  }
}
