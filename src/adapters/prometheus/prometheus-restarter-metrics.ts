import { Counter, Gauge } from 'prom-client';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../domain/workload.js';
import type { RestartMetrics } from '../../ports/restart-metrics.js';
import { PrometheusExposition, type PrometheusExpositionOptions } from './prometheus-exposition.js';

/** The restarter's metrics in the Prometheus text format (`restarter --metrics-addr`). */
export class PrometheusRestarterMetrics extends PrometheusExposition implements RestartMetrics {
  private readonly restarts: Counter<'kind'>;
  private readonly skipped: Counter<'kind' | 'reason'>;
  private readonly errors: Counter<'kind'>;
  private readonly leader: Gauge;

  constructor(options: PrometheusExpositionOptions = {}) {
    super();
    const registers = [this.registry];
    this.restarts = new Counter({ name: 'workload_restarts_total', help: 'Total number of workloads restarted after a rotation, by kind', labelNames: ['kind'], registers });
    this.skipped = new Counter({
      name: 'workload_restart_skipped_total',
      help: 'Total number of decisions not to restart an opted-in workload now, by kind and reason',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.errors = new Counter({ name: 'workload_restart_errors_total', help: 'Total number of restart decisions or restarts that failed, by kind', labelNames: ['kind'], registers });
    this.leader = new Gauge({ name: 'restarter_leader', help: '1 while this restarter holds the leader lease', registers });
    // Series at zero from the start, so rate() works before the first restart.
    for (const kind of WORKLOAD_KINDS) {
      this.restarts.labels({ kind }).inc(0);
      this.errors.labels({ kind }).inc(0);
    }
    this.leader.set(0);
    this.addProcessMetrics(options);
  }

  restarted(kind: WorkloadKind): void {
    this.restarts.inc({ kind });
  }

  restartSkipped(kind: WorkloadKind, reason: string): void {
    this.skipped.inc({ kind, reason });
  }

  restartFailed(kind: WorkloadKind): void {
    this.errors.inc({ kind });
  }

  leading(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
  }
}
