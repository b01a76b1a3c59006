import { InvalidListenAddress, parseListenAddress, type ListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { answerReservation } from '../domain/payload-memory.js';
import type { FlagDefinition, FlagValue } from './flags.js';
import { UsageError } from './flags.js';

/** Flags of the node agent: the upstream driver's names and defaults, then this driver's own. */
export const DRIVER_FLAGS: readonly FlagDefinition[] = [
  { name: 'endpoint', kind: 'string', default: 'unix:///tmp/csi.sock', env: 'CSI_ENDPOINT', help: 'CSI endpoint (unix socket)' },
  { name: 'drivername', kind: 'string', default: 'secrets-store.csi.k8s.io', help: 'name of the driver' },
  { name: 'nodeid', kind: 'string', default: '', env: 'KUBE_NODE_NAME', help: 'node name (required)' },
  { name: 'provider-volume', kind: 'string', default: '/var/run/secrets-store-csi-providers', help: 'directory of provider sockets' },
  {
    name: 'additional-provider-volume-paths',
    kind: 'list',
    default: ['/etc/kubernetes/secrets-store-csi-providers'],
    help: 'comma-separated directories searched for provider sockets before --provider-volume',
  },
  { name: 'metrics-addr', kind: 'string', default: ':8095', help: 'address the Prometheus metrics endpoint listens on' },
  { name: 'metrics-backend', kind: 'string', default: 'prometheus', help: 'metrics backend (prometheus)' },
  { name: 'enable-secret-rotation', kind: 'bool', default: false, help: 'refresh mounted secrets and synced Secrets when the store changes' },
  { name: 'rotation-poll-interval', kind: 'duration', default: 120_000, help: 'time between two rotation checks of a mount' },
  { name: 'max-call-recv-msg-size', kind: 'int', default: 4_194_304, help: 'largest provider response accepted, in bytes' },
  { name: 'provider-health-check', kind: 'bool', default: false, help: 'check provider health periodically' },
  { name: 'provider-health-check-interval', kind: 'duration', default: 120_000, help: 'time between provider health checks' },
  { name: 'log-format-json', kind: 'bool', default: false, help: 'write logs as JSON lines' },
  { name: 'v', kind: 'int', default: 0, help: 'log verbosity' },
  { name: 'kubeconfig', kind: 'string', default: '', env: 'KUBECONFIG', help: 'kubeconfig file (else in-cluster)' },
  { name: 'version', kind: 'bool', default: false, help: 'print the version and exit' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
  {
    name: 'health-addr',
    kind: 'string',
    default: ':9809',
    help: 'address of /healthz and /readyz (ready = CSI socket serving and cluster caches loaded); 9808 is the livenessprobe sidecar\'s',
  },
  { name: 'kubelet-root', kind: 'string', default: '/var/lib/kubelet', help: 'kubelet root directory; targets must lie under it' },
  { name: 'min-rotation-poll-interval', kind: 'duration', default: 5_000, help: 'lowest interval a class annotation may ask for' },
  { name: 'rotation-jitter', kind: 'float', default: 0.1, help: 'fraction by which each due time varies at random (0-1)' },
  { name: 'rotation-workers', kind: 'int', default: 4, help: 'rotation checks run at the same time' },
  {
    name: 'provider-qps',
    kind: 'float',
    default: 0,
    help: 'provider calls per second per provider for rotation checks (0 = unlimited); kubelet publishes never wait but spend the tokens there are',
  },
  { name: 'provider-burst', kind: 'int', default: 1, help: 'with --provider-qps: provider calls per provider that may go out at once' },
  // Isolation and bounded memory (docs/operations.md "Isolation and memory").
  {
    name: 'rotation-call-timeout',
    kind: 'duration',
    default: 10_000,
    help: "deadline of a rotation check's provider call (kubelet's publishes keep 30s); a call past it fails the check, which backs off",
  },
  {
    name: 'payload-memory-budget',
    kind: 'int',
    default: 0,
    help: 'bytes of provider answers in flight at once, each counted twice; 0 = half of what the container memory limit leaves beside the V8 heap; kubelet gets RESOURCE_EXHAUSTED beyond it',
  },
  { name: 'cluster', kind: 'string', default: 'kubernetes', help: 'where classes and statuses live: kubernetes or memory' },
  { name: 'manifests', kind: 'list', default: [], help: 'with --cluster memory: YAML files or directories loaded into the cluster (watched)' },
  { name: 'state-file', kind: 'string', default: '', help: 'with --cluster memory: write pod statuses, Secrets and Events here as YAML' },
];

export type ClusterKind = 'kubernetes' | 'memory';

export interface RotationConfig {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly minClassIntervalMs: number;
  readonly jitterFraction: number;
  readonly backoffBaseMs: number;
  readonly workers: number;
  /** `--provider-qps` (0 = unlimited) and `--provider-burst`: the per-provider limit of rotation calls. */
  readonly providerQps: number;
  readonly providerBurst: number;
  /** `--rotation-call-timeout`: the deadline of a rotation check's provider call. */
  readonly callTimeoutMs: number;
}

/** Everything the driver is told at start, validated once and frozen. */
export interface DriverConfig {
  readonly endpoint: string;
  readonly driverName: string;
  readonly nodeId: string;
  readonly providerVolume: string;
  readonly additionalProviderVolumePaths: readonly string[];
  readonly metricsAddr: string;
  /** `--health-addr`: where /healthz and /readyz are served. */
  readonly healthAddr: string;
  readonly metricsBackend: string;
  readonly rotation: RotationConfig;
  readonly maxCallRecvMsgSize: number;
  /** `--payload-memory-budget` in bytes; 0 until the driver derives it from its memory limits at start. */
  readonly payloadMemoryBudget: number;
  readonly providerHealthCheck: boolean;
  readonly providerHealthCheckIntervalMs: number;
  readonly logFormatJson: boolean;
  readonly verbosity: number;
  readonly kubeconfig: string;
  readonly kubeletRoot: string;
  readonly cluster: ClusterKind;
  readonly manifests: readonly string[];
  readonly stateFile: string;
}

/** First retry after a failed check; doubles per failure up to the interval. */
const ROTATION_BACKOFF_BASE_MS = 1_000;

export function driverConfig(values: Record<string, FlagValue>): DriverConfig {
  const str = (name: string): string => values[name] as string;
  const num = (name: string): number => values[name] as number;
  const cluster = str('cluster');
  if (cluster !== 'kubernetes' && cluster !== 'memory') {
    throw new UsageError(`invalid value "${cluster}" for flag "--cluster": expected kubernetes or memory`);
  }
  if (str('nodeid').trim() === '') throw new UsageError('flag "--nodeid" is required (the name of this node)');
  validateEndpoint(str('endpoint'));
  validateListenAddress('metrics-addr', str('metrics-addr'));
  validateListenAddress('health-addr', str('health-addr'));
  positive('rotation-poll-interval', num('rotation-poll-interval'));
  positive('min-rotation-poll-interval', num('min-rotation-poll-interval'));
  positive('provider-health-check-interval', num('provider-health-check-interval'));
  positive('max-call-recv-msg-size', num('max-call-recv-msg-size'));
  positive('rotation-workers', num('rotation-workers'));
  if (num('provider-qps') < 0) throw new UsageError(`invalid value "${num('provider-qps')}" for flag "--provider-qps": must be 0 (unlimited) or more`);
  positive('provider-burst', num('provider-burst'));
  positive('rotation-call-timeout', num('rotation-call-timeout'));
  validatePayloadMemoryBudget(num('payload-memory-budget'), num('max-call-recv-msg-size'));
  const jitter = num('rotation-jitter');
  if (jitter < 0 || jitter > 1) throw new UsageError(`invalid value "${jitter}" for flag "--rotation-jitter": expected a fraction from 0 to 1`);
  if (!str('kubelet-root').startsWith('/')) throw new UsageError('flag "--kubelet-root" must be an absolute path');
  const manifests = values['manifests'] as string[];
  if (cluster === 'kubernetes' && (manifests.length > 0 || str('state-file') !== '')) {
    throw new UsageError('flags "--manifests" and "--state-file" need "--cluster memory"');
  }
  if (str('metrics-backend') !== 'prometheus') {
    throw new UsageError(`invalid value "${str('metrics-backend')}" for flag "--metrics-backend": only prometheus is supported`);
  }
  return Object.freeze({
    endpoint: str('endpoint'),
    driverName: str('drivername'),
    nodeId: str('nodeid'),
    providerVolume: str('provider-volume'),
    additionalProviderVolumePaths: Object.freeze([...(values['additional-provider-volume-paths'] as string[])]),
    metricsAddr: str('metrics-addr'),
    healthAddr: str('health-addr'),
    metricsBackend: str('metrics-backend'),
    rotation: Object.freeze({
      enabled: values['enable-secret-rotation'] as boolean,
      intervalMs: num('rotation-poll-interval'),
      minClassIntervalMs: num('min-rotation-poll-interval'),
      jitterFraction: jitter,
      backoffBaseMs: ROTATION_BACKOFF_BASE_MS,
      workers: num('rotation-workers'),
      providerQps: num('provider-qps'),
      providerBurst: num('provider-burst'),
      callTimeoutMs: num('rotation-call-timeout'),
    }),
    maxCallRecvMsgSize: num('max-call-recv-msg-size'),
    payloadMemoryBudget: num('payload-memory-budget'),
    providerHealthCheck: values['provider-health-check'] as boolean,
    providerHealthCheckIntervalMs: num('provider-health-check-interval'),
    logFormatJson: values['log-format-json'] as boolean,
    verbosity: num('v'),
    kubeconfig: str('kubeconfig'),
    kubeletRoot: str('kubelet-root').replace(/\/+$/, '') || '/',
    cluster,
    manifests: Object.freeze([...manifests]),
    stateFile: str('state-file'),
  });
}

/** CSI endpoints are unix sockets given as `unix:///absolute/path` (a socket path fits in 107 bytes). */
export function validateEndpoint(endpoint: string): string {
  // The path must not end in "/": that names a directory, which the CSI server would refuse only at bind time.
  const match = /^unix:\/\/(\/.*[^/])$/.exec(endpoint);
  if (!match) throw new UsageError(`invalid value "${endpoint}" for flag "--endpoint": expected unix:///absolute/path.sock`);
  const path = match[1]!;
  if (new TextEncoder().encode(path).length > 107) {
    throw new UsageError(`invalid value "${endpoint}" for flag "--endpoint": socket path longer than 107 bytes`);
  }
  return path;
}

/** `--metrics-addr`/`--health-addr`: `host:port` as Go listens on it (`:8095` = every interface). */
export function validateListenAddress(flag: string, value: string): ListenAddress {
  try {
    return parseListenAddress(value);
  } catch (error) {
    if (error instanceof InvalidListenAddress) throw new UsageError(`invalid value "${value}" for flag "--${flag}": ${error.message}`);
    throw error;
  }
}

/** 0 (derive it) or room for at least one answer of the largest size, which is held twice while received. */
function validatePayloadMemoryBudget(budget: number, maxCallRecvMsgSize: number): void {
  const least = answerReservation(undefined, maxCallRecvMsgSize);
  if (budget === 0 || budget >= least) return;
  throw new UsageError(
    `invalid value "${budget}" for flag "--payload-memory-budget": must be 0 (derived) or at least ${least} (twice --max-call-recv-msg-size)`,
  );
}

function positive(name: string, value: number): void {
  if (!(value > 0)) throw new UsageError(`invalid value for flag "--${name}": must be greater than zero`);
}
