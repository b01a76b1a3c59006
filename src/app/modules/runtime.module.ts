import { ContainerModule, type ContainerModuleLoadOptions } from 'inversify';
import { Clock, Random, Scheduler } from '../../ports/clock.js';
import { Logger } from '../../ports/logger.js';
import { Metrics } from '../../ports/metrics.js';
import { RestartMetrics } from '../../ports/restart-metrics.js';

export interface Runtime {
  readonly clock: Clock & Scheduler & Random;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The restarter's runtime: the same time and logs, its own metrics. */
export interface RestarterRuntime {
  readonly clock: Clock & Scheduler & Random;
  readonly logger: Logger;
  readonly metrics: RestartMetrics;
}

/** Time, randomness, logs and metrics: chosen by the entry point (system or manual clock, stderr or a test sink). */
export function runtimeModule(runtime: Runtime): ContainerModule {
  return new ContainerModule((options) => {
    bindTimeAndLogs(options, runtime);
    options.bind(Metrics).toConstantValue(runtime.metrics);
  });
}

export function restarterRuntimeModule(runtime: RestarterRuntime): ContainerModule {
  return new ContainerModule((options) => {
    bindTimeAndLogs(options, runtime);
    options.bind(RestartMetrics).toConstantValue(runtime.metrics);
  });
}

function bindTimeAndLogs({ bind }: ContainerModuleLoadOptions, runtime: Pick<Runtime, 'clock' | 'logger'>): void {
  bind(Clock).toConstantValue(runtime.clock);
  bind(Scheduler).toConstantValue(runtime.clock);
  bind(Random).toConstantValue(runtime.clock);
  bind(Logger).toConstantValue(runtime.logger);
}
