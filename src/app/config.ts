import { parseListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { answerReservation } from '../domain/payload-memory.js';
import { absolutePath, atLeast, between, csiDriverName, listenAddress, nodeName, nonEmpty, oneOf, positive, socketPathOf, unixEndpoint, verbosity } from './flag-checks.js';
import type { FlagDefinition, FlagValues } from './flags.js';
import { shortDuration, UsageError, wasGiven } from './flags.js';
import { UPSTREAM_LIBRARY_FLAGS } from './upstream-library-flags.js';

/** Largest `--max-call-recv-msg-size`: gRPC sizes are 32-bit signed integers. */
const MAX_GRPC_MESSAGE_BYTES = 2_147_483_647;

/** Flags of the node agent: the upstream driver's names and defaults, then this driver's own. */
export const DRIVER_FLAGS: readonly FlagDefinition[] = [
  { name: 'endpoint', kind: 'string', default: 'unix:///tmp/csi.sock', env: 'CSI_ENDPOINT', check: unixEndpoint, help: 'CSI endpoint (unix socket)' },
  { name: 'drivername', kind: 'string', default: 'secrets-store.csi.k8s.io', check: csiDriverName, help: 'name of the driver' },
  { name: 'nodeid', kind: 'string', default: '', env: 'KUBE_NODE_NAME', check: nodeName, help: 'node name (required)' },
  { name: 'provider-volume', kind: 'string', default: '/var/run/secrets-store-csi-providers', check: nonEmpty('a directory'), help: 'directory of provider sockets' },
  {
    name: 'additional-provider-volume-paths',
    kind: 'list',
    default: ['/etc/kubernetes/secrets-store-csi-providers'],
    help: 'comma-separated directories searched for provider sockets before --provider-volume',
  },
  { name: 'metrics-addr', kind: 'string', default: ':8095', check: listenAddress(['0']), help: 'address the Prometheus metrics endpoint listens on; 0 turns it off' },
  { name: 'metrics-backend', kind: 'string', default: 'Prometheus', check: oneOf(['prometheus']), help: 'metrics backend (prometheus, in any case)' },
  { name: 'enable-secret-rotation', kind: 'bool', default: false, help: 'refresh mounted secrets and synced Secrets when the store changes' },
  { name: 'rotation-poll-interval', kind: 'duration', default: 120_000, check: positive('a duration'), help: 'time between two rotation checks of a mount' },
  { name: 'max-call-recv-msg-size', kind: 'int', default: 4_194_304, check: between(1, MAX_GRPC_MESSAGE_BYTES, 'a size in bytes'), help: 'largest provider response accepted, in bytes' },
  { name: 'provider-health-check', kind: 'bool', default: false, help: 'check provider health periodically' },
  { name: 'provider-health-check-interval', kind: 'duration', default: 120_000, check: positive('a duration'), help: 'time between provider health checks' },
  { name: 'log-format-json', kind: 'bool', default: false, help: 'write logs as JSON lines' },
  { name: 'v', kind: 'int', default: 0, check: verbosity, help: 'log verbosity (debug lines from 4 on)' },
  { name: 'enable-pprof', kind: 'bool', default: false, help: 'serve CPU profiles and heap snapshots on 127.0.0.1:--pprof-port (/debug/pprof/)' },
  { name: 'pprof-port', kind: 'int', default: 6065, check: between(0, 65_535, 'a port'), help: 'port of the profiling endpoint (0 = any free port)' },
  { name: 'kubeconfig', kind: 'string', default: '', env: 'KUBECONFIG', help: 'kubeconfig file (else in-cluster)' },
  { name: 'version', kind: 'bool', default: false, help: 'print the version and exit' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
  ...UPSTREAM_LIBRARY_FLAGS,
  {
    name: 'health-addr',
    kind: 'string',
    default: ':9809',
    check: listenAddress(),
    help: 'address of /healthz and /readyz (ready = CSI socket serving and cluster caches loaded); 9808 is the livenessprobe sidecar\'s',
  },
  { name: 'kubelet-root', kind: 'string', default: '/var/lib/kubelet', check: absolutePath, help: 'kubelet root directory; targets must lie under it' },
  {
    name: 'min-rotation-poll-interval',
    kind: 'duration',
    default: 5_000,
    check: positive('a duration'),
    help: 'lowest interval a class annotation may ask for; at most --rotation-poll-interval (when not given: the shorter of 5s and that)',
  },
  { name: 'rotation-jitter', kind: 'float', default: 0.1, check: between(0, 1, 'a fraction'), help: 'fraction by which each due time varies at random (0-1)' },
  { name: 'rotation-workers', kind: 'int', default: 4, check: positive('a number'), help: 'rotation checks run at the same time' },
  {
    name: 'provider-qps',
    kind: 'float',
    default: 0,
    check: atLeast(0, 'calls per second (0 = unlimited)'),
    help: 'provider calls per second per provider for rotation checks (0 = unlimited); kubelet publishes never wait but spend the tokens there are',
  },
  { name: 'provider-burst', kind: 'int', default: 1, check: positive('a number'), help: 'with --provider-qps: provider calls per provider that may go out at once' },
  // Isolation and bounded memory (docs/operations.md "Isolation and memory").
  {
    name: 'rotation-call-timeout',
    kind: 'duration',
    default: 10_000,
    check: positive('a duration'),
    help: "deadline of a rotation check's provider call (kubelet's publishes keep 30s); a call past it fails the check, which backs off",
  },
  {
    name: 'payload-memory-budget',
    kind: 'int',
    default: 0,
    check: atLeast(0, 'a size in bytes'),
    help: 'bytes of provider answers in flight at once, each counted twice; 0 = half of what the container memory limit leaves beside the V8 heap; kubelet gets RESOURCE_EXHAUSTED beyond it',
  },
  { name: 'cluster', kind: 'string', default: 'kubernetes', check: oneOf(['kubernetes', 'memory'], 'exact'), help: 'where classes and statuses live: kubernetes or memory' },
  { name: 'manifests', kind: 'list', default: [], help: 'with --cluster memory: YAML files or directories loaded into the cluster (watched)' },
  { name: 'state-file', kind: 'string', default: '', help: 'with --cluster memory: write pod statuses, Secrets and Events here as YAML' },
  {
    name: 'builtin-kubelet',
    kind: 'bool',
    default: true,
    help: "with --cluster memory: publish the inline volumes of the manifests' Pods on --nodeid over the CSI socket, as kubelet does",
  },
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
  /** `--builtin-kubelet` in the memory profile: a kubelet for the manifests' Pods of this node. */
  readonly builtinKubelet: boolean;
  /** `--enable-pprof` and `--pprof-port`: the profiling endpoint on loopback, or undefined when off. */
  readonly pprofPort: number | undefined;
}

/** First retry after a failed check; doubles per failure up to the interval. */
const ROTATION_BACKOFF_BASE_MS = 1_000;

/**
 * Validates what the flags' own checks cannot see (a required flag, rules between flags) and freezes the
 * result. Throws UsageError naming the flags.
 */
export function driverConfig(values: FlagValues): DriverConfig {
  const str = (name: string): string => values[name] as string;
  const num = (name: string): number => values[name] as number;
  const cluster = str('cluster') as ClusterKind;
  if (str('nodeid').trim() === '') throw new UsageError('flag "--nodeid" is required (the name of this node)');
  validatePayloadMemoryBudget(num('payload-memory-budget'), num('max-call-recv-msg-size'));
  const manifests = values['manifests'] as string[];
  if (cluster === 'kubernetes' && (manifests.length > 0 || str('state-file') !== '')) {
    throw new UsageError('flags "--manifests" and "--state-file" need "--cluster memory"');
  }
  if (cluster === 'kubernetes' && wasGiven(values, 'builtin-kubelet')) {
    throw new UsageError('flag "--builtin-kubelet" needs "--cluster memory" (on a node, kubelet itself calls the driver)');
  }
  const intervalMs = num('rotation-poll-interval');
  const pprofPort = values['enable-pprof'] ? num('pprof-port') : undefined;
  checkPortsApart(str('metrics-addr'), str('health-addr'), pprofPort);
  return Object.freeze({
    endpoint: str('endpoint'),
    driverName: str('drivername'),
    nodeId: str('nodeid'),
    providerVolume: str('provider-volume'),
    additionalProviderVolumePaths: Object.freeze([...(values['additional-provider-volume-paths'] as string[])]),
    metricsAddr: str('metrics-addr'),
    healthAddr: str('health-addr'),
    metricsBackend: str('metrics-backend').toLowerCase(),
    rotation: Object.freeze({
      enabled: values['enable-secret-rotation'] as boolean,
      intervalMs,
      minClassIntervalMs: minClassInterval(values, intervalMs),
      jitterFraction: num('rotation-jitter'),
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
    builtinKubelet: cluster === 'memory' && (values['builtin-kubelet'] as boolean),
    pprofPort,
  });
}

/** An explicit minimum above the interval is a contradiction; the default minimum gives way to a shorter interval. */
function minClassInterval(values: FlagValues, intervalMs: number): number {
  const minMs = values['min-rotation-poll-interval'] as number;
  if (!wasGiven(values, 'min-rotation-poll-interval')) return Math.min(minMs, intervalMs);
  if (minMs > intervalMs) {
    throw new UsageError(
      `flag "--min-rotation-poll-interval" (${shortDuration(minMs)}) must not exceed "--rotation-poll-interval" (${shortDuration(intervalMs)})`,
    );
  }
  return minMs;
}

/** Two of the driver's listeners on one port would fail at bind time, after the CSI socket is up; say so now. */
function checkPortsApart(metricsAddr: string, healthAddr: string, pprofPort: number | undefined): void {
  const metricsPort = metricsAddr === '0' ? undefined : parseListenAddress(metricsAddr).port;
  const healthPort = parseListenAddress(healthAddr).port;
  if (pprofPort === undefined || pprofPort === 0) return;
  for (const [flag, port] of [['metrics-addr', metricsPort], ['health-addr', healthPort]] as const) {
    if (port === pprofPort) throw new UsageError(`flags "--pprof-port" and "--${flag}" name the same port ${pprofPort}`);
  }
}

/** The socket path of an endpoint; throws UsageError naming `--endpoint` for one that is not `unix:///absolute/path`. */
export function validateEndpoint(endpoint: string): string {
  const expected = unixEndpoint(endpoint);
  if (expected !== undefined) throw new UsageError(`invalid value "${endpoint}" for flag "--endpoint": expected ${expected}`);
  return socketPathOf(endpoint);
}

/** 0 (derive it) or room for at least one answer of the largest size, which is held twice while received. */
function validatePayloadMemoryBudget(budget: number, maxCallRecvMsgSize: number): void {
  const least = answerReservation(undefined, maxCallRecvMsgSize);
  if (budget === 0 || budget >= least) return;
  throw new UsageError(
    `invalid value "${budget}" for flag "--payload-memory-budget": must be 0 (derived) or at least ${least} (twice --max-call-recv-msg-size)`,
  );
}
