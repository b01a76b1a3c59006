import { expect } from 'chai';
import { PrometheusRestarterMetrics } from '../../../../src/adapters/prometheus/prometheus-restarter-metrics.js';

describe('PrometheusRestarterMetrics', () => {
  it('exposes restarts, skips by reason, errors and leadership under the restarter\'s names', async () => {
    const metrics = new PrometheusRestarterMetrics({ processMetrics: false });
    const before = await metrics.scrape();
    expect(before).to.include('workload_restarts_total{kind="Deployment"} 0');
    expect(before).to.include('workload_restart_errors_total{kind="DaemonSet"} 0');
    expect(before).to.include('restarter_leader 0');
    metrics.restarted('Deployment');
    metrics.restartSkipped('StatefulSet', 'RolloutInProgress');
    metrics.restartSkipped('StatefulSet', 'RolloutInProgress');
    metrics.restartFailed('DaemonSet');
    metrics.leading(true);
    const after = await metrics.scrape();
    expect(after).to.include('workload_restarts_total{kind="Deployment"} 1');
    expect(after).to.include('workload_restart_skipped_total{kind="StatefulSet",reason="RolloutInProgress"} 2');
    expect(after).to.include('workload_restart_errors_total{kind="DaemonSet"} 1');
    expect(after).to.include('restarter_leader 1');
    expect(after).not.to.include('process_cpu');
  });

  it('adds the process metrics by default', async () => {
    expect(await new PrometheusRestarterMetrics().scrape()).to.include('process_resident_memory_bytes');
  });
});
