import { ContainerModule } from 'inversify';
import { Clock, Random, Scheduler } from '../../ports/clock.js';
import { Logger } from '../../ports/logger.js';
import { Metrics } from '../../ports/metrics.js';

export interface Runtime {
  readonly clock: Clock & Scheduler & Random;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** Time, randomness, logs and metrics: chosen by the entry point (system or manual clock, stderr or a test sink). */
export function runtimeModule(runtime: Runtime): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(Clock).toConstantValue(runtime.clock);
    bind(Scheduler).toConstantValue(runtime.clock);
    bind(Random).toConstantValue(runtime.clock);
    bind(Logger).toConstantValue(runtime.logger);
    bind(Metrics).toConstantValue(runtime.metrics);
  });
}
