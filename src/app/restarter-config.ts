import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { leaseTimingProblem, type LeaseTiming } from '../domain/leader-lease.js';
import type { RestartSettings } from '../domain/restart-on-rotation.js';
import { validateListenAddress } from './config.js';
import type { FlagDefinition, FlagValue } from './flags.js';
import { UsageError } from './flags.js';

/** Flags of `secrets-store-csi restarter` (all this driver's own; leader-election names as client-go's components use them). */
export const RESTARTER_FLAGS: readonly FlagDefinition[] = [
  { name: 'kubeconfig', kind: 'string', default: '', env: 'KUBECONFIG', help: 'kubeconfig file (else in-cluster)' },
  { name: 'metrics-addr', kind: 'string', default: ':8095', help: 'address the Prometheus metrics endpoint listens on' },
  { name: 'health-addr', kind: 'string', default: ':9809', help: 'address of /healthz and /readyz (ready = caches of workloads, pod statuses and synced Secrets loaded)' },
  { name: 'debounce-window', kind: 'duration', default: 30_000, help: 'a rotation is acted upon once what it changed has stayed the same this long (later moves restart once)' },
  { name: 'min-restart-interval', kind: 'duration', default: 300_000, help: 'least time between two restarts of one workload' },
  { name: 'cluster-restart-qps', kind: 'float', default: 0.1, help: 'restarts per second across the cluster (0 = unlimited)' },
  { name: 'cluster-restart-burst', kind: 'int', default: 5, help: 'with --cluster-restart-qps: restarts that may happen at once' },
  { name: 'leader-elect', kind: 'bool', default: true, help: 'take part in leader election so that one replica acts' },
  { name: 'leader-election-namespace', kind: 'string', default: 'kube-system', env: 'POD_NAMESPACE', help: 'namespace of the leader election Lease' },
  { name: 'leader-election-lease-name', kind: 'string', default: 'secrets-store-csi-restarter', help: 'name of the leader election Lease' },
  { name: 'leader-election-identity', kind: 'string', default: '', env: 'POD_NAME', help: 'this replica in the Lease (default: host name plus a random suffix)' },
  { name: 'leader-election-lease-duration', kind: 'duration', default: 15_000, help: 'how long a lease holds without renewal' },
  { name: 'leader-election-renew-deadline', kind: 'duration', default: 10_000, help: 'a leader that has not renewed for this long stops acting' },
  { name: 'leader-election-retry-period', kind: 'duration', default: 2_000, help: 'time between two attempts to acquire or renew the lease' },
  { name: 'log-format-json', kind: 'bool', default: false, help: 'write logs as JSON lines' },
  { name: 'v', kind: 'int', default: 0, help: 'log verbosity' },
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

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function restarterConfig(values: Record<string, FlagValue>): RestarterConfig {
  const str = (name: string): string => values[name] as string;
  const num = (name: string): number => values[name] as number;
  validateListenAddress('metrics-addr', str('metrics-addr'));
  validateListenAddress('health-addr', str('health-addr'));
  for (const name of ['debounce-window', 'min-restart-interval']) {
    if (num(name) < 0) throw new UsageError(`invalid value for flag "--${name}": must not be negative`);
  }
  if (num('cluster-restart-qps') < 0) throw new UsageError('invalid value for flag "--cluster-restart-qps": must be 0 (unlimited) or more');
  if (!(num('cluster-restart-burst') > 0)) throw new UsageError('invalid value for flag "--cluster-restart-burst": must be greater than zero');
  const namespace = str('leader-election-namespace');
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
    throw new UsageError(`invalid value "${namespace}" for flag "--leader-election-namespace": must be a namespace name`);
  }
  const leaseName = str('leader-election-lease-name');
  if (!DNS_SUBDOMAIN.test(leaseName) || leaseName.length > 253) {
    throw new UsageError(`invalid value "${leaseName}" for flag "--leader-election-lease-name": must be a lowercase DNS subdomain`);
  }
  const timing = {
    leaseDurationMs: num('leader-election-lease-duration'),
    renewDeadlineMs: num('leader-election-renew-deadline'),
    retryPeriodMs: num('leader-election-retry-period'),
  };
  const problem = leaseTimingProblem(timing);
  if (problem !== undefined) throw new UsageError(`invalid leader election timing: ${problem} (--leader-election-lease-duration, --leader-election-renew-deadline, --leader-election-retry-period)`);
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
