import { describeError, toDomainError } from '../domain/errors.js';
import { errorTypeLabel } from '../domain/metric-labels.js';
import type { Clock, CancelTimer, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import type { ProviderProbe } from '../ports/provider-probe.js';

/** What the last check of one provider found. */
export interface ProviderHealth {
  readonly healthy: boolean;
  /** When the check ended (epoch milliseconds). */
  readonly checkedAt: number;
  /** Why it failed, as a metric error type (`ProviderUnavailable`, `INTERNAL` ...); absent when healthy. */
  readonly reason?: string;
}

export interface ProviderHealthSettings {
  /** `--provider-health-check-interval`: from the end of one round to the start of the next. */
  readonly intervalMs: number;
  /** Deadline of one Version call (upstream's 5 s). */
  readonly timeoutMs: number;
}

/** Providers checked per round at most: each is a series and a `/readyz` line, so their number is bounded too. */
export const MAX_CHECKED_PROVIDERS = 64;

/**
 * `--provider-health-check`: calls `Version` on every provider socket of the node, at start and then
 * every interval, all providers at once (a hung one delays no other). A provider is healthy when it
 * answers, and also when it answers UNIMPLEMENTED: a provider older than `Version` still mounts. The
 * results feed the `provider_healthy` gauge (read at scrape time, so a provider whose socket went away
 * leaves no series) and `/readyz`; a change of a provider's health is logged once.
 */
export class ProviderHealthCheck {
  private results: ReadonlyMap<string, ProviderHealth> = new Map();
  private cancelTimer: CancelTimer | undefined;
  private round: Promise<void> | undefined;
  private started = false;

  constructor(
    private readonly probe: ProviderProbe,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
    private readonly settings: ProviderHealthSettings,
  ) {
    this.metrics.readProviderHealthFrom(() => new Map([...this.results].map(([name, health]) => [name, health.healthy])));
  }

  /** Starts the rounds: the first one now. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.logger.info('provider health check enabled', { intervalMs: this.settings.intervalMs });
    this.runRound();
  }

  /** Stops the rounds; resolves once a round in progress has ended. */
  async stop(): Promise<void> {
    this.started = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.round;
  }

  /** The last result of each provider found by the last round, by name. */
  current(): ReadonlyMap<string, ProviderHealth> {
    return this.results;
  }

  /** One round: every provider found now is checked; providers no longer found are forgotten. */
  async checkAll(): Promise<ReadonlyMap<string, ProviderHealth>> {
    const found = await this.probe.discover();
    if (found.length > MAX_CHECKED_PROVIDERS) {
      this.logger.warn('too many provider sockets; checking the first ones by name', { found: found.length, checked: MAX_CHECKED_PROVIDERS });
    }
    const names = found.slice(0, MAX_CHECKED_PROVIDERS);
    const checked = await Promise.all(names.map(async (name) => ({ name, ...(await this.checkOne(name)) })));
    const previous = this.results;
    this.results = new Map(checked.map(({ name, health }) => [name, health]));
    for (const { name, health, detail } of checked) this.reportChange(name, previous.get(name), health, detail);
    return this.results;
  }

  /** The provider's health, and the failure's own message for the log. */
  private async checkOne(name: string): Promise<{ readonly health: ProviderHealth; readonly detail?: string }> {
    try {
      const answer = await this.probe.version(name, this.settings.timeoutMs);
      this.logger.debug('provider health check passed', { provider: name, runtimeName: answer.runtimeName, runtimeVersion: answer.runtimeVersion });
      return { health: { healthy: true, checkedAt: this.clock.now() } };
    } catch (thrown) {
      const error = toDomainError(thrown);
      if (error.providerCode === 'UNIMPLEMENTED') return { health: { healthy: true, checkedAt: this.clock.now() } };
      return { health: { healthy: false, checkedAt: this.clock.now(), reason: errorTypeLabel(error.errorType) }, detail: describeError(thrown) };
    }
  }

  private reportChange(name: string, before: ProviderHealth | undefined, after: ProviderHealth, detail: string | undefined): void {
    if (!after.healthy && (before === undefined || before.healthy || before.reason !== after.reason)) {
      this.logger.warn('provider health check failed', { provider: name, reason: after.reason, error: detail });
    } else if (after.healthy && before !== undefined && !before.healthy) {
      this.logger.info('provider health check passed again', { provider: name });
    }
  }

  private runRound(): void {
    if (!this.started) return;
    this.round = this.checkAll().then(
      () => undefined,
      (error: unknown) => this.logger.error('provider health check round failed', { error: describeError(error) }),
    ).finally(() => {
      if (this.started) this.cancelTimer = this.scheduler.after(this.settings.intervalMs, () => this.runRound());
    });
  }
}
