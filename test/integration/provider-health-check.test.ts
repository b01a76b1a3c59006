import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Volume } from 'memfs';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { startFakeProvider, type FakeProviderControls } from '../../src/adapters/fake-provider/fake-provider-server.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { PrometheusMetrics, SCOPE_LABELS } from '../../src/adapters/prometheus/prometheus-metrics.js';
import { GrpcProviderProbe } from '../../src/adapters/provider-grpc/provider-probe.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { memfsFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { grpcProviderModule } from '../../src/app/modules/provider.module.js';
import { nodeAgentReadiness, startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import { startObservabilityEndpoints, type ObservabilityEndpoints } from '../../src/app/observability.js';
import { MAX_CHECKED_PROVIDERS, ProviderHealthCheck } from '../../src/application/provider-health-check.js';
import type { CSIDriverProviderHandlers } from '../../src/gen/v1alpha1/CSIDriverProvider.js';
import type { Metrics } from '../../src/ports/metrics.js';
import { loadProviderProtos } from '../../src/gen/load.js';
import { eventually } from '../contract/eventually.js';
import { KUBELET_ROOT } from '../support/builders.js';
import { rejectionOf } from '../support/driver-assertions.js';
import { CollectingLogger } from '../support/driver-harness.js';

/** How a scripted provider answers Version; Mount is never called in these tests. */
type VersionBehaviour = 'internal-error' | 'never-answers' | 'unimplemented';

/** A provider API server on a unix socket whose Version answers as told (a real gRPC peer, not a double of the client). */
async function startScriptedProvider(socketPath: string, behaviour: VersionBehaviour): Promise<{ stop(): void }> {
  const server = new Server();
  const pending: (() => void)[] = [];
  const handlers: Partial<CSIDriverProviderHandlers> = {
    Mount: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: 'not in this test' }),
  };
  // Without a Version handler grpc-js answers UNIMPLEMENTED, as a provider older than Version does.
  if (behaviour === 'internal-error') handlers.Version = (_call, callback) => callback({ code: status.INTERNAL, details: 'store unreachable' });
  if (behaviour === 'never-answers') handlers.Version = (_call, callback) => void pending.push(() => callback({ code: status.CANCELLED }));
  server.addService(loadProviderProtos().v1alpha1.CSIDriverProvider.service, handlers as CSIDriverProviderHandlers);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
  return {
    stop() {
      for (const answer of pending) answer();
      server.forceShutdown();
    },
  };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('integration: provider health check over real unix sockets', function () {
  this.timeout(60_000);
  let root: string;
  let first: string;
  let second: string;
  const stops: (() => unknown)[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sscsi-health-'));
    first = join(root, 'additional');
    second = join(root, 'providers');
    await mkdir(first);
    await mkdir(second);
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await Promise.resolve().then(stop).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  async function fake(dir: string, name: string): Promise<FakeProviderControls> {
    const provider = await startFakeProvider({ socketPath: join(dir, `${name}.sock`), runtimeName: `${name}-runtime`, runtimeVersion: '9.9.9' });
    stops.push(() => provider.stop());
    return provider;
  }

  async function scripted(dir: string, name: string, behaviour: VersionBehaviour): Promise<void> {
    const provider = await startScriptedProvider(join(dir, `${name}.sock`), behaviour);
    stops.push(() => provider.stop());
  }

  describe('GrpcProviderProbe', () => {
    it('discovers each provider socket once, sorted, ignoring plain files and names no class could use', async () => {
      await fake(first, 'vault');
      await fake(second, 'vault');
      await fake(second, 'azure');
      await scripted(second, 'bad.name', 'unimplemented');
      await writeFile(join(second, 'gcp.sock'), 'not a socket');
      const probe = new GrpcProviderProbe([first, second, join(root, 'missing')]);
      expect(await probe.discover()).to.deep.equal(['azure', 'vault']);
    });

    it('calls Version on the socket a mount would use and returns the runtime it names', async () => {
      const used = await fake(first, 'vault');
      const shadowed = await fake(second, 'vault');
      const answer = await new GrpcProviderProbe([first, second]).version('vault', 5_000);
      expect(answer).to.deep.equal({ version: 'v1alpha1', runtimeName: 'vault-runtime', runtimeVersion: '9.9.9' });
      expect([used.versionCount, shadowed.versionCount]).to.deep.equal([1, 0]);
      expect(used.lastAuthority).to.equal('localhost');
    });

    it('rejects with ProviderUnavailable naming the paths tried when no socket exists', async () => {
      const error = await rejectionOf(new GrpcProviderProbe([first, second]).version('vault', 5_000));
      expect(error.code).to.equal('ProviderUnavailable');
      expect(error.message).to.contain(join(first, 'vault.sock')).and.contain(join(second, 'vault.sock'));
    });

    it('rejects with ProviderUnavailable after its deadline when the provider never answers', async () => {
      await scripted(first, 'hung', 'never-answers');
      const error = await rejectionOf(new GrpcProviderProbe([first]).version('hung', 300));
      expect(error.code).to.equal('ProviderUnavailable');
      expect(error.message).to.contain('timed out after 300ms');
    });

    it('rejects with ProviderError carrying the status name when Version fails', async () => {
      await scripted(first, 'broken', 'internal-error');
      const error = await rejectionOf(new GrpcProviderProbe([first]).version('broken', 5_000));
      expect(error).to.include({ code: 'ProviderError', providerCode: 'INTERNAL' });
    });
  });

  describe('ProviderHealthCheck', () => {
    function aHealthCheck(metrics: MemoryMetrics, logger = new CollectingLogger()): ProviderHealthCheck {
      const clock = new SystemClock();
      return new ProviderHealthCheck(new GrpcProviderProbe([first, second]), metrics, clock, clock, logger, { intervalMs: 60_000, timeoutMs: 300 });
    }

    it('counts an answer as healthy, UNIMPLEMENTED included (a provider older than Version), and an error or silence as not', async () => {
      await fake(first, 'vault');
      await scripted(first, 'legacy', 'unimplemented');
      await scripted(second, 'broken', 'internal-error');
      await scripted(second, 'hung', 'never-answers');
      const metrics = new MemoryMetrics();

      const results = await aHealthCheck(metrics).checkAll();

      expect(Object.fromEntries([...results].map(([name, health]) => [name, [health.healthy, health.reason]]))).to.deep.equal({
        broken: [false, 'INTERNAL'],
        hung: [false, 'ProviderUnavailable'],
        legacy: [true, undefined],
        vault: [true, undefined],
      });
      expect(['vault', 'legacy', 'broken', 'hung'].map((name) => metrics.providerHealthy(name))).to.deep.equal([1, 1, 0, 0]);
    });

    it('forgets a provider whose socket went away (no series left) and logs a failure and a recovery once each', async () => {
      const vault = await fake(first, 'vault');
      const flaky = await startScriptedProvider(join(second, 'flaky.sock'), 'internal-error');
      const metrics = new MemoryMetrics();
      const logger = new CollectingLogger();
      const check = aHealthCheck(metrics, logger);

      await check.checkAll();
      await check.checkAll();
      expect(metrics.providerHealthy('flaky')).to.equal(0);
      flaky.stop();
      await fake(second, 'flaky');
      await check.checkAll();
      await check.checkAll();
      await vault.stop();
      await check.checkAll();

      expect(metrics.providerHealthy('vault')).to.equal(undefined);
      expect(metrics.providerHealthy('flaky')).to.equal(1);
      const failures = logger.lines.filter((line) => line.startsWith('warn provider health check failed'));
      expect(failures, logger.lines.join('\n')).to.have.length(1);
      expect(failures[0]).to.contain('"provider":"flaky"').and.contain('"reason":"INTERNAL"').and.contain('store unreachable');
      const recoveries = logger.lines.filter((line) => line.startsWith('info provider health check passed again'));
      expect(recoveries, logger.lines.join('\n')).to.deep.equal(['info provider health check passed again {"provider":"flaky"}']);
    });

    it(`checks at most ${MAX_CHECKED_PROVIDERS} providers per round, the first by name, and says so`, async () => {
      for (let i = 0; i < MAX_CHECKED_PROVIDERS + 2; i++) await fake(second, `p${String(i).padStart(3, '0')}`);
      const logger = new CollectingLogger();

      const results = await aHealthCheck(new MemoryMetrics(), logger).checkAll();

      expect([...results.keys()]).to.have.length(MAX_CHECKED_PROVIDERS);
      expect(results.has('p000')).to.equal(true);
      expect(results.has(`p${MAX_CHECKED_PROVIDERS + 1}`)).to.equal(false);
      expect(logger.lines.some((line) => line.startsWith('warn too many provider sockets'))).to.equal(true);
    });
  });

  describe('the node agent with --provider-health-check', () => {
    const INTERVAL_MS = 200;
    let agent: NodeAgent | undefined;
    let endpoints: ObservabilityEndpoints | undefined;

    /** The driver's flags for these tests: providers in the two directories, a short interval, plus `extra`. */
    function configWith(...extra: string[]): DriverConfig {
      return driverConfig(
        parseFlags(DRIVER_FLAGS, [
          `--endpoint=unix://${join(root, 'csi.sock')}`,
          '--nodeid=node-1',
          `--kubelet-root=${KUBELET_ROOT}`,
          '--cluster=memory',
          `--provider-volume=${second}`,
          `--additional-provider-volume-paths=${first}`,
          `--provider-health-check-interval=${INTERVAL_MS}ms`,
          ...extra,
        ]),
      );
    }

    /** The node agent as `driver --cluster memory` composes it, with gRPC providers (files in memory: nothing is mounted here). */
    function startAgent(config: DriverConfig, logger: CollectingLogger, metrics: Metrics): Promise<NodeAgent> {
      const clock = new SystemClock();
      return startNodeAgent(
        config,
        { clock, logger, metrics },
        { cluster: memoryClusterModule(new InMemoryCluster({ clock })), files: memfsFilesModule(new Volume()), provider: grpcProviderModule(config) },
        'health-test',
      );
    }

    afterEach(async () => {
      await agent?.stop();
      await endpoints?.stop();
      agent = undefined;
      endpoints = undefined;
    });

    it('checks every provider at start and every interval: provider_healthy in /metrics, /readyz ready and listing them', async () => {
      const vault = await fake(second, 'vault');
      await scripted(first, 'broken', 'internal-error');
      const config = configWith('--provider-health-check', '--metrics-addr=127.0.0.1:0', '--health-addr=127.0.0.1:0');
      const logger = new CollectingLogger();
      const metrics = new PrometheusMetrics({ processMetrics: false });
      endpoints = await startObservabilityEndpoints({ metricsAddr: config.metricsAddr, healthAddr: config.healthAddr, metrics, readiness: nodeAgentReadiness(() => agent), logger });
      agent = await startAgent(config, logger, metrics);
      const { metrics: metricsServer, health } = endpoints;
      if (metricsServer === undefined) throw new Error('expected a metrics endpoint (--metrics-addr is not 0)');
      // Rounds run every 200 ms; a loaded machine gets 50 intervals before this fails.
      const deadline = 50 * INTERVAL_MS;

      await eventually(async () => {
        const readyz = await get(health.port, '/readyz');
        expect(readyz).to.deep.equal({
          status: 200,
          body: '[+]csi-socket ok\n[+]cluster-caches ok\n[-]provider-broken failed: INTERNAL (reported, not required)\n[+]provider-vault ok\nreadyz check passed\n',
        });
        const scraped = (await get(metricsServer.port, '/metrics')).body;
        const scope = Object.entries(SCOPE_LABELS).map(([name, value]) => `${name}="${value}"`).join(',');
        expect(scraped).to.contain(`provider_healthy{provider="vault",os_type="linux",${scope}} 1`).and.contain(`provider_healthy{provider="broken",os_type="linux",${scope}} 0`);
      }, deadline, 25);
      const callsSoFar = vault.versionCount;
      await eventually(() => expect(vault.versionCount).to.be.above(callsSoFar + 1), deadline, 25);

      await vault.stop();

      await eventually(async () => {
        expect((await get(health.port, '/readyz')).body).not.to.contain('provider-vault');
        expect((await get(metricsServer.port, '/metrics')).body).not.to.contain('provider="vault"');
      }, deadline, 25);
    });

    it('checks nothing without the flag', async () => {
      const vault = await fake(second, 'vault');
      const logger = new CollectingLogger();
      agent = await startAgent(configWith(), logger, new MemoryMetrics());
      // With the flag, the start logs "provider health check enabled" before it returns, and its first round begins.
      expect(logger.lines.some((line) => line.includes('provider health check'))).to.equal(false);
      expect(agent.readiness().providers.size).to.equal(0);
      expect(vault.versionCount).to.equal(0);
    });
  });
});
