import { ContainerModule, type ContainerModuleLoadOptions } from 'inversify';
import { Clock, Random, Scheduler } from '../../ports/clock.js';
import { Logger } from '../../ports/logger.js';
import { MemoryReclaimer } from '../../ports/memory-reclaimer.js';
import { Metrics } from '../../ports/metrics.js';
import { RestartMetrics } from '../../ports/restart-metrics.js';

export interface Runtime {
  readonly clock: Clock & Scheduler & Random;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Frees written provider answers' buffers at once (absent: left to the runtime's own garbage collection). */
  readonly memory?: MemoryReclaimer;
}

/** The restarter's runtime: the same time and logs, its own metrics. */
export interface RestarterRuntime {
  readonly clock: Clock & Scheduler & Random;
  readonly logger: Logger;
  readonly metrics: RestartMetrics;
}

const LEAVE_TO_RUNTIME: MemoryReclaimer = Object.freeze({ reclaim: () => undefined });

/** Time, randomness, logs, metrics and memory: chosen by the entry point (system or manual clock, stderr or a test sink). */
export function runtimeModule(runtime: Runtime): ContainerModule {
  return new ContainerModule((options) => {
    bindTimeAndLogs(options, runtime);
    options.bind(Metrics).toConstantValue(runtime.metrics);
    options.bind(MemoryReclaimer).toConstantValue(runtime.memory ?? LEAVE_TO_RUNTIME);
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
