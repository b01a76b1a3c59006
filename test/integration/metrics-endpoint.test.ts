import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Volume } from 'memfs';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { CsiCallError, CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { InProcessSecretProvider } from '../../src/adapters/fake-provider/in-process-provider.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { DURATION_BUCKETS, PrometheusMetrics, SCOPE_LABELS } from '../../src/adapters/prometheus/prometheus-metrics.js';
import type { CliIo } from '../../src/app/cli-io.js';
import { runCli } from '../../src/app/cli.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { memfsFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../../src/app/modules/provider.module.js';
import { nodeAgentReadiness, startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import { startObservabilityEndpoints, type ObservabilityEndpoints } from '../../src/app/observability.js';
import { eventually } from '../contract/eventually.js';
import { aPublishCommand, KUBELET_ROOT, targetPathFor } from '../support/builders.js';
import { aClassResource, aPodResource } from '../support/cluster-builders.js';
import { CollectingLogger } from '../support/driver-harness.js';

interface MetricShape {
  readonly name: string;
  readonly type: 'counter' | 'histogram' | 'gauge';
  readonly labels: readonly string[];
}

/**
 * The metrics of wire.md section 6 as the upstream driver serves them: names, types and label names as a scraper
 * sees them (besides the exporter's scope labels, SCOPE_LABEL_NAMES, on every series).
 */
const WIRE_METRICS: readonly MetricShape[] = [
  { name: 'node_publish_total', type: 'counter', labels: ['provider', 'os_type'] },
  { name: 'node_publish_error_total', type: 'counter', labels: ['provider', 'error_type', 'os_type'] },
  { name: 'node_unpublish_total', type: 'counter', labels: ['os_type'] },
  { name: 'node_unpublish_error_total', type: 'counter', labels: ['os_type'] },
  { name: 'rotation_reconcile_total', type: 'counter', labels: ['provider', 'os_type', 'rotated'] },
  { name: 'rotation_reconcile_error_total', type: 'counter', labels: ['provider', 'error_type', 'os_type', 'rotated'] },
  { name: 'rotation_reconcile_duration_sec', type: 'histogram', labels: ['os_type'] },
  { name: 'sync_k8s_secret_total', type: 'counter', labels: ['provider', 'os_type'] },
  { name: 'k8s_secret_duration_sec', type: 'histogram', labels: ['os_type'] },
];

const SCOPE_LABEL_NAMES = Object.keys(SCOPE_LABELS);

/** This driver's own metrics next to upstream's (docs/operations.md); their series come and go with what happens. */
const DRIVER_METRICS: readonly MetricShape[] = [
  { name: 'provider_requests_total', type: 'counter', labels: ['provider', 'result', 'os_type'] },
  { name: 'rotation_skipped_total', type: 'counter', labels: ['reason', 'os_type'] },
  { name: 'mounted_content_age_seconds', type: 'gauge', labels: ['provider', 'os_type'] },
  { name: 'provider_healthy', type: 'gauge', labels: ['provider', 'os_type'] },
  { name: 'api_server_reads_total', type: 'counter', labels: ['resource', 'os_type'] },
];

/** Process metrics a Go driver's scrape config also finds (client_golang's process collector names). */
const PROCESS_METRICS = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'process_max_fds'];

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

/** Reads the Prometheus text format 0.0.4 (as a scraper does: HELP/TYPE comments, then samples). */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

function seriesOf(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function valueOf(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number {
  return seriesOf(exposition, name, labels).reduce((sum, s) => sum + s.value, 0);
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

function get(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<Exposition> {
  const answer = await get(port, '/metrics');
  expect(answer.status).to.equal(200);
  expect(answer.contentType).to.match(/^text\/plain; version=0\.0\.4/);
  return parseExposition(answer.body);
}

/** A promise and its resolver: the cluster caches' first list, released when a test says so. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The node agent as `driver` composes it (CSI on a real unix socket, Prometheus metrics, the endpoints
 * on 127.0.0.1 with system-chosen ports), over the in-memory cluster, memfs files and the in-process
 * fake provider, on a manual clock so rotation runs when the test says.
 */
class ObservedDriver {
  readonly clock = new ManualClock();
  readonly cluster = new InMemoryCluster({ clock: this.clock });
  readonly provider = new InProcessSecretProvider();
  readonly metrics = new PrometheusMetrics();
  readonly logger = new CollectingLogger();
  readonly synced = deferred();
  config!: DriverConfig;
  endpoints!: ObservabilityEndpoints;
  agent: NodeAgent | undefined;
  client: CsiNodeClient | undefined;
  private dir = '';

  async startEndpoints(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'sscsi-obs-'));
    this.config = driverConfig(
      parseFlags(DRIVER_FLAGS, [
        `--endpoint=unix://${join(this.dir, 'csi.sock')}`,
        '--nodeid=node-1',
        `--kubelet-root=${KUBELET_ROOT}`,
        '--cluster=memory',
        '--metrics-addr=127.0.0.1:0',
        '--health-addr=127.0.0.1:0',
        '--enable-secret-rotation',
        '--rotation-poll-interval=10s',
        '--rotation-jitter=0',
      ]),
    );
    this.endpoints = await startObservabilityEndpoints({
      metricsAddr: this.config.metricsAddr,
      healthAddr: this.config.healthAddr,
      metrics: this.metrics,
      readiness: nodeAgentReadiness(() => this.agent),
      logger: this.logger,
    });
  }

  async startAgent(): Promise<void> {
    this.agent = await startNodeAgent(
      this.config,
      { clock: this.clock, logger: this.logger, metrics: this.metrics },
      {
        cluster: memoryClusterModule(this.cluster),
        files: memfsFilesModule(new Volume()),
        provider: givenProviderModule(this.provider),
        whenSynced: () => this.synced.promise,
      },
      'metrics-test',
    );
    this.client = new CsiNodeClient(this.agent.csi.address);
  }

  get metricsPort(): number {
    return this.endpoints.metrics!.port;
  }

  get healthPort(): number {
    return this.endpoints.health.port;
  }

  /** Moves the clock past the rotation interval and runs the pass the timer starts. */
  async rotate(): Promise<void> {
    this.clock.advance(10_001);
    await this.agent!.reconciler.runDueChecks();
    await this.cluster.whenIdle();
  }

  async dispose(): Promise<void> {
    this.client?.close();
    this.synced.resolve();
    await this.agent?.stop();
    await this.endpoints?.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

describe('integration: metrics and health endpoints of the driver', function () {
  this.timeout(30_000);

  describe('/healthz and /readyz', () => {
    let driver: ObservedDriver;
    before(async () => {
      driver = new ObservedDriver();
      await driver.startEndpoints();
    });
    after(() => driver.dispose());

    it('answers /healthz 200 as soon as the endpoints listen', async () => {
      expect(await get(driver.healthPort, '/healthz')).to.deep.include({ status: 200, body: 'ok\n' });
    });

    it('flips /readyz from 503 to 200 once the CSI socket serves and the caches have synced, and back on stop', async () => {
      const before = await get(driver.healthPort, '/readyz');
      expect(before.status).to.equal(503);
      expect(before.body).to.contain('[-]csi-socket failed').and.contain('[-]cluster-caches failed');

      await driver.startAgent();
      const serving = await get(driver.healthPort, '/readyz');
      expect(serving.status).to.equal(503);
      expect(serving.body).to.contain('[+]csi-socket ok').and.contain('[-]cluster-caches failed');

      driver.synced.resolve();
      await eventually(async () => expect(await get(driver.healthPort, '/readyz')).to.deep.include({ status: 200, body: 'ok\n' }), 5_000);
      expect((await get(driver.healthPort, '/readyz?verbose')).body).to.equal('[+]csi-socket ok\n[+]cluster-caches ok\nreadyz check passed\n');

      await driver.agent!.stop();
      driver.agent = undefined;
      expect((await get(driver.healthPort, '/readyz')).status).to.equal(503);
      expect((await get(driver.healthPort, '/healthz')).status).to.equal(200);
    });

    it('serves /metrics on the metrics address only', async () => {
      expect((await get(driver.healthPort, '/metrics')).status).to.equal(404);
      expect((await get(driver.metricsPort, '/healthz')).status).to.equal(404);
      expect((await get(driver.metricsPort, '/metrics')).status).to.equal(200);
    });
  });

  describe('/metrics after real publishes, rotations and unpublishes', () => {
    let driver: ObservedDriver;
    let exposition: Exposition;
    /** Scraped while the volume was mounted (the content-age gauge has series only then). */
    let mounted: Exposition;
    const uid = 'a1b2c3d4-0000-4000-8000-000000000001';

    before(async () => {
      driver = new ObservedDriver();
      await driver.startEndpoints();
      await driver.startAgent();
      driver.synced.resolve();
      driver.cluster.create(
        aClassResource({ secretObjects: [{ secretName: 'app-synced', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] }] }),
      );
      driver.cluster.create(aPodResource({ uid }));
      const client = driver.client!;
      const command = aPublishCommand({ podUid: uid });
      // Success: node_publish_total and sync_k8s_secret_total.
      await client.publish(command);
      // A class that does not exist: node_publish_error_total{provider="",error_type="ClassNotFound"}.
      await client.publish(aPublishCommand({ podUid: 'a1b2c3d4-0000-4000-8000-000000000002', className: 'missing' })).catch((e: unknown) => {
        if (!(e instanceof CsiCallError)) throw e;
      });
      // Rotation with a new version (rotated="true"), then a provider failure (rotation_reconcile_error_total).
      driver.provider.store.rotate('db-password');
      await driver.rotate();
      driver.provider.fail({ kind: 'provider-error', code: 'GRPCProviderError' });
      await driver.rotate();
      driver.provider.fail(undefined);
      // A republish before the backoff retry is due: rotation_skipped_total{reason="NotDue"}.
      await client.publish(command);
      // The failed check left the content 10 s old; the scrape reads the age then.
      driver.clock.advance(500);
      mounted = await scrape(driver.metricsPort);
      // Unpublish, and one outside the kubelet root (node_unpublish_error_total).
      await client.unpublish({ volumeId: command.volumeId, targetPath: targetPathFor(uid) });
      await client.unpublish({ volumeId: 'v', targetPath: '/elsewhere/pods/x/volumes/kubernetes.io~csi/v/mount' }).catch((e: unknown) => {
        if (!(e instanceof CsiCallError)) throw e;
      });
      exposition = await scrape(driver.metricsPort);
    });
    after(() => driver.dispose());

    for (const metric of WIRE_METRICS) {
      it(`exposes ${metric.name} as a ${metric.type} with labels {${metric.labels.join(',')}}`, () => {
        expect(exposition.types.get(metric.name), `# TYPE ${metric.name}`).to.equal(metric.type);
        const sampleName = metric.type === 'histogram' ? `${metric.name}_count` : metric.name;
        const series = seriesOf(exposition, sampleName);
        expect(series, sampleName).to.not.be.empty;
        for (const sample of series) {
          expect(Object.keys(sample.labels), `${sampleName} labels`).to.have.members([...metric.labels, ...SCOPE_LABEL_NAMES]);
          expect(sample.labels['os_type']).to.equal('linux');
          if ('rotated' in sample.labels) expect(sample.labels['rotated']).to.be.oneOf(['true', 'false']);
        }
        expect(valueOf(exposition, sampleName), `${sampleName} after the driven calls`).to.be.greaterThan(0);
      });
    }

    for (const metric of DRIVER_METRICS) {
      it(`exposes ${metric.name} as a ${metric.type}, each series with labels {${metric.labels.join(',')}}`, () => {
        expect(exposition.types.get(metric.name), `# TYPE ${metric.name}`).to.equal(metric.type);
        for (const sample of seriesOf(exposition, metric.name)) {
          expect(Object.keys(sample.labels), `${metric.name} labels`).to.have.members([...metric.labels, ...SCOPE_LABEL_NAMES]);
          expect(sample.labels['os_type']).to.equal('linux');
        }
      });
    }

    it('exposes no other driver metric than those of wire.md 6 and its own (next to process and runtime metrics)', () => {
      const known = new Set([...WIRE_METRICS, ...DRIVER_METRICS].map((m) => m.name));
      const others = [...exposition.types.keys()].filter((name) => !known.has(name) && !/^(process|nodejs)_/.test(name));
      expect(others).to.deep.equal([]);
    });

    for (const name of ['rotation_reconcile_duration_sec', 'k8s_secret_duration_sec']) {
      it(`exposes ${name}_bucket (cumulative, up to le="+Inf"), _sum and _count`, () => {
        const buckets = seriesOf(exposition, `${name}_bucket`);
        expect(buckets.map((b) => b.labels['le'])).to.deep.equal([...DURATION_BUCKETS.map(String), '+Inf']);
        for (const bucket of buckets) expect(Object.keys(bucket.labels)).to.have.members(['le', 'os_type', ...SCOPE_LABEL_NAMES]);
        const counts = buckets.map((b) => b.value);
        expect(counts, 'cumulative buckets').to.deep.equal([...counts].sort((a, b) => a - b));
        const count = valueOf(exposition, `${name}_count`);
        expect(buckets.find((b) => b.labels['le'] === '+Inf')!.value).to.equal(count);
        expect(seriesOf(exposition, `${name}_sum`)).to.have.length(1);
        expect(valueOf(exposition, `${name}_sum`)).to.be.at.least(0);
      });
    }

    it('counts what the driver did, labelled as upstream labels it', () => {
      expect(valueOf(exposition, 'node_publish_total', { provider: 'fake', os_type: 'linux' }), 'the publish and the republish').to.equal(2);
      expect(valueOf(exposition, 'node_publish_error_total', { provider: '', error_type: 'ClassNotFound' })).to.equal(1);
      expect(valueOf(exposition, 'sync_k8s_secret_total', { provider: 'fake' })).to.be.at.least(1);
      expect(valueOf(exposition, 'rotation_reconcile_total', { provider: 'fake', rotated: 'true' })).to.equal(1);
      // The provider's own error code is not a gRPC status name: a bounded label, Other.
      expect(valueOf(exposition, 'rotation_reconcile_error_total', { provider: 'fake', error_type: 'Other', rotated: 'false' })).to.equal(1);
      expect(valueOf(exposition, 'rotation_reconcile_duration_sec_count')).to.equal(1);
      expect(valueOf(exposition, 'node_unpublish_total')).to.equal(1);
      expect(valueOf(exposition, 'node_unpublish_error_total')).to.equal(1);
      expect(valueOf(exposition, 'provider_requests_total', { provider: 'fake', result: 'success' }), 'publish and first rotation').to.equal(2);
      expect(valueOf(exposition, 'provider_requests_total', { provider: 'fake', result: 'Other' })).to.equal(1);
      expect(valueOf(exposition, 'provider_requests_total'), 'the missing class never reached the provider').to.equal(3);
      expect(valueOf(exposition, 'rotation_skipped_total', { reason: 'NotDue' })).to.equal(1);
    });

    it('reads mounted_content_age_seconds at scrape time: since the last check that confirmed the content, none once unmounted', () => {
      expect(valueOf(mounted, 'mounted_content_age_seconds', { provider: 'fake', os_type: 'linux' })).to.equal(10.501);
      expect(seriesOf(exposition, 'mounted_content_age_seconds')).to.deep.equal([]);
    });

    it('adds the process metrics', () => {
      for (const name of PROCESS_METRICS) expect(seriesOf(exposition, name), name).to.not.be.empty;
      expect(valueOf(exposition, 'process_resident_memory_bytes')).to.be.greaterThan(0);
    });
  });

  describe('one address for metrics and health', () => {
    /** A port that was free a moment ago (the system's pick for port 0). */
    async function freePort(): Promise<number> {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as { port: number };
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }

    it('serves /metrics, /healthz and /readyz from one server', async () => {
      const address = `127.0.0.1:${await freePort()}`;
      const logger = new CollectingLogger();
      const metrics = new PrometheusMetrics({ processMetrics: false });
      const endpoints = await startObservabilityEndpoints({ metricsAddr: address, healthAddr: address, metrics, readiness: nodeAgentReadiness(() => undefined), logger });
      try {
        expect(endpoints.metrics).to.equal(endpoints.health);
        expect((await get(endpoints.health.port, '/metrics')).status).to.equal(200);
        expect((await get(endpoints.health.port, '/healthz')).status).to.equal(200);
        expect((await get(endpoints.health.port, '/readyz')).status).to.equal(503);
      } finally {
        await endpoints.stop();
      }
    });
  });

  describe('the driver command', () => {
    /** A CliIo that keeps stderr and stops when told. */
    function cliIo(): { io: CliIo; stderr: () => string; stop: () => void } {
      let stderr = '';
      let stop!: () => void;
      const stopRequested = new Promise<void>((resolve) => (stop = resolve));
      return { io: { out: () => undefined, err: (text) => void (stderr += text), env: {}, stopRequested }, stderr: () => stderr, stop };
    }

    it('serves /metrics, /healthz and /readyz on the given addresses and closes them on SIGTERM', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sscsi-obs-cli-'));
      const { io, stderr, stop } = cliIo();
      const exit = runCli(
        [
          'driver',
          '--cluster=memory',
          '--nodeid=node-1',
          `--endpoint=unix://${join(dir, 'csi.sock')}`,
          `--kubelet-root=${join(dir, 'kubelet')}`,
          `--provider-volume=${join(dir, 'providers')}`,
          '--additional-provider-volume-paths=',
          '--metrics-addr=127.0.0.1:0',
          '--health-addr=127.0.0.1:0',
          '--log-format-json',
        ],
        io,
      );
      try {
        const ports = await eventually(() => {
          const listening = stderr()
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as { msg: string; server?: string; address?: string })
            .filter((record) => record.msg === 'http endpoints listening');
          const portOf = (server: string): number => Number(/:(\d+)$/.exec(listening.find((r) => r.server === server)!.address!)![1]);
          return { metrics: portOf('metrics'), health: portOf('health') };
        }, 10_000);
        await eventually(async () => expect((await get(ports.health, '/readyz')).status).to.equal(200), 10_000);
        expect((await get(ports.health, '/healthz')).status).to.equal(200);
        const exposition = await scrape(ports.metrics);
        expect(exposition.types.get('node_publish_total')).to.equal('counter');
        expect(seriesOf(exposition, 'process_cpu_seconds_total')).to.not.be.empty;

        stop();
        expect(await exit).to.equal(0);
        const refused = await get(ports.metrics, '/metrics').then(
          () => false,
          (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED',
        );
        expect(refused, 'metrics port closed after stop').to.equal(true);
      } finally {
        stop();
        await exit.catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    });

    const badAddresses: Array<[string, string]> = [
      ['--metrics-addr=8095', 'invalid value "8095" for flag "--metrics-addr": expected host:port such as :8095 or 127.0.0.1:8095 (missing port'],
      ['--metrics-addr=::1:8095', 'invalid value "::1:8095" for flag "--metrics-addr": expected host:port such as :8095 or 127.0.0.1:8095 (too many colons'],
      ['--health-addr=:99999', 'invalid value ":99999" for flag "--health-addr": expected host:port such as :8095 or 127.0.0.1:8095 (port 99999 is out of range (0-65535))'],
      ['--health-addr=:health', 'invalid value ":health" for flag "--health-addr"'],
    ];
    for (const [flag, message] of badAddresses) {
      it(`exits 2 for ${flag} with "${message}"`, async () => {
        const { io, stderr } = cliIo();
        expect(await runCli(['driver', '--nodeid=n', flag], io)).to.equal(2);
        expect(stderr()).to.contain(message);
      });
    }

    it('lists --health-addr with its default in --help', async () => {
      let out = '';
      const io: CliIo = { out: (text) => void (out += text), err: () => undefined, env: {}, stopRequested: new Promise(() => {}) };
      expect(await runCli(['driver', '--help'], io)).to.equal(0);
      expect(out).to.match(/--health-addr string\n.*\(default ":9809"\)/);
      expect(out).to.match(/--metrics-addr string\n.*\(default ":8095"\)/);
    });
  });
});
