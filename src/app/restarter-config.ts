import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { leaseTimingProblem, type LeaseTiming } from '../domain/leader-lease.js';
import type { RestartSettings } from '../domain/restart-on-rotation.js';
import { atLeast, listenAddress, namespaceName, objectName, positive, verbosity, type FlagCheck } from './flag-checks.js';
import type { FlagDefinition, FlagValue } from './flags.js';
import { UsageError } from './flags.js';

/** A Lease name: an object name, never empty. */
const nonEmptyObjectName =
  (what: string): FlagCheck =>
  (value) =>
    value === '' ? `${what} (a lowercase DNS subdomain)` : objectName(what)(value);

/** Zero or more. */

/** Flags of `secrets-store-csi restarter` (all this driver's own; leader-election names as client-go's components use them). */
export const RESTARTER_FLAGS: readonly FlagDefinition[] = [
  { name: 'kubeconfig', kind: 'string', default: '', env: 'KUBECONFIG', help: 'kubeconfig file (else in-cluster)' },
  { name: 'metrics-addr', kind: 'string', default: ':8095', check: listenAddress(['0']), help: 'address the Prometheus metrics endpoint listens on; 0 turns it off' },
  { name: 'health-addr', kind: 'string', default: ':9809', check: listenAddress(), help: 'address of /healthz and /readyz (ready = caches of workloads, pod statuses and synced Secrets loaded)' },
  { name: 'debounce-window', kind: 'duration', default: 30_000, check: atLeast(0, 'a duration'), help: 'a rotation is acted upon once what it changed has stayed the same this long (later moves restart once)' },
  { name: 'min-restart-interval', kind: 'duration', default: 300_000, check: atLeast(0, 'a duration'), help: 'least time between two restarts of one workload' },
  { name: 'cluster-restart-qps', kind: 'float', default: 0.1, check: atLeast(0, 'restarts per second (0 = unlimited)'), help: 'restarts per second across the cluster (0 = unlimited)' },
  { name: 'cluster-restart-burst', kind: 'int', default: 5, check: positive('a number'), help: 'with --cluster-restart-qps: restarts that may happen at once' },
  { name: 'leader-elect', kind: 'bool', default: true, help: 'take part in leader election so that one replica acts' },
  { name: 'leader-election-namespace', kind: 'string', default: 'kube-system', env: 'POD_NAMESPACE', check: namespaceName, help: 'namespace of the leader election Lease' },
  { name: 'leader-election-lease-name', kind: 'string', default: 'secrets-store-csi-restarter', check: nonEmptyObjectName('a Lease name'), help: 'name of the leader election Lease' },
  { name: 'leader-election-identity', kind: 'string', default: '', env: 'POD_NAME', help: 'this replica in the Lease (default: host name plus a random suffix)' },
  { name: 'leader-election-lease-duration', kind: 'duration', default: 15_000, check: positive('a duration'), help: 'how long a lease holds without renewal' },
  { name: 'leader-election-renew-deadline', kind: 'duration', default: 10_000, check: positive('a duration'), help: 'a leader that has not renewed for this long stops acting' },
  { name: 'leader-election-retry-period', kind: 'duration', default: 2_000, check: positive('a duration'), help: 'time between two attempts to acquire or renew the lease' },
  { name: 'log-format-json', kind: 'bool', default: false, help: 'write logs as JSON lines' },
  { name: 'v', kind: 'int', default: 0, check: verbosity, help: 'log verbosity' },
  { name: 'version', kind: 'bool', default: false, help: 'print the version and exit' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

export interface LeaderElectionConfig {
  readonly enabled: boolean;
  readonly namespace: string;
  readonly leaseName: string;
  readonly identity: string;
  readonly timing: LeaseTiming;
}

/** What the restarter is told at start, validated once and frozen. */
export interface RestarterConfig {
  readonly kubeconfig: string;
  readonly metricsAddr: string;
  readonly healthAddr: string;
  readonly logFormatJson: boolean;
  readonly verbosity: number;
  readonly restart: RestartSettings;
  readonly leaderElection: LeaderElectionConfig;
}

export function restarterConfig(values: Record<string, FlagValue>): RestarterConfig {
  const str = (name: string): string => values[name] as string;
  const num = (name: string): number => values[name] as number;
  const namespace = str('leader-election-namespace');
  const leaseName = str('leader-election-lease-name');
  const timing = {
    leaseDurationMs: num('leader-election-lease-duration'),
    renewDeadlineMs: num('leader-election-renew-deadline'),
    retryPeriodMs: num('leader-election-retry-period'),
  };
  const problem = leaseTimingProblem(timing);
  if (problem !== undefined) throw new UsageError(`invalid leader election timing: ${problem} (flags "--leader-election-lease-duration", "--leader-election-renew-deadline" and "--leader-election-retry-period")`);
  return Object.freeze({
    kubeconfig: str('kubeconfig'),
    metricsAddr: str('metrics-addr'),
    healthAddr: str('health-addr'),
    logFormatJson: values['log-format-json'] as boolean,
    verbosity: num('v'),
    restart: Object.freeze({
      debounceMs: num('debounce-window'),
      minIntervalMs: num('min-restart-interval'),
      clusterLimit: Object.freeze({ qps: num('cluster-restart-qps'), burst: num('cluster-restart-burst') }),
    }),
    leaderElection: Object.freeze({
      enabled: values['leader-elect'] as boolean,
      namespace,
      leaseName,
      // client-go's default: the host name (the pod's name in a Deployment) and a random suffix, unique per process.
      identity: str('leader-election-identity') || `${hostname()}_${randomBytes(4).toString('hex')}`,
      timing: Object.freeze(timing),
    }),
  });
}
