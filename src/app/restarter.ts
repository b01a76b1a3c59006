import { Container, type ContainerModule } from 'inversify';
import { LeaderElector } from '../application/leader-election.js';
import { RestartReconciler } from '../application/restart-reconciler.js';
import { describeError } from '../domain/errors.js';
import { restarterModule, type RestarterSettings } from './modules/restarter.module.js';
import { restarterRuntimeModule, type RestarterRuntime } from './modules/runtime.module.js';

/** The adapter modules of a restarter profile: where workloads, pod statuses, Secrets and the Lease live. */
export interface RestarterProfile {
  readonly cluster: ContainerModule;
  /** Resolves once the cluster caches hold their first list; absent when there is nothing to wait for. */
  readonly whenSynced?: (container: Container) => Promise<void>;
}

export interface RestarterStartSettings extends RestarterSettings {
  /** Without leader election this process acts at once (one replica only). */
  readonly leaderElect: boolean;
}

export interface Restarter {
  readonly container: Container;
  readonly reconciler: RestartReconciler;
  /** Resolves once the caches are loaded and the process takes part in leader election (or leads, without it). */
  readonly started: Promise<void>;
  /** Ready: the caches are loaded (`/readyz`); leading is not needed, a standby replica is ready too. */
  cachesLoaded(): boolean;
  stop(): Promise<void>;
}

/**
 * Builds the restarter for a profile: follows the feeds at once, and once the caches are loaded takes
 * part in leader election; the reconciler acts only while this process leads.
 */
export function startRestarter(settings: RestarterStartSettings, runtime: RestarterRuntime, profile: RestarterProfile): Restarter {
  const container = new Container();
  container.load(restarterRuntimeModule(runtime), profile.cluster, restarterModule(settings));
  const reconciler = container.get(RestartReconciler);
  reconciler.start();
  const elector = settings.leaderElect ? container.get(LeaderElector) : undefined;
  let synced = profile.whenSynced === undefined;
  let stopping = false;
  const started = (async () => {
    await profile.whenSynced?.(container);
    synced = true;
    if (stopping) return;
    if (elector !== undefined) elector.start();
    else {
      runtime.metrics.leading(true);
      await reconciler.lead();
    }
  })();
  started.catch((error: unknown) => runtime.logger.error('the restarter could not start', { error: describeError(error) }));
  runtime.logger.info('restarter started', {
    leaderElection: elector === undefined ? 'off' : `lease ${settings.leaderElection.leaseName} as ${settings.leaderElection.identity}`,
  });
  return {
    container,
    reconciler,
    started,
    cachesLoaded: () => synced,
    async stop() {
      stopping = true;
      await elector?.stop();
      await reconciler.stop();
      runtime.metrics.leading(false);
      await container.unbindAll();
    },
  };
}
