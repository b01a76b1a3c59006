import { expect } from 'chai';
import { register as globalRegistry } from 'prom-client';
import { DURATION_BUCKETS, PrometheusMetrics, SCOPE_LABELS } from '../../../../src/adapters/prometheus/prometheus-metrics.js';
import type { Metrics } from '../../../../src/ports/metrics.js';

/** The exporter scope labels as they end every series of the driver's metrics. */
const SCOPE = Object.entries(SCOPE_LABELS).map(([name, value]) => `,${name}="${value}"`).join('');

/** `name{labels}` -> value for each sample line of a Prometheus text exposition, the scope labels left out of the key. */
function samples(exposition: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut).replace(SCOPE, ''), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The samples of one metric: `[name{labels}, value]`. */
function seriesNamed(scraped: Map<string, number>, metric: string): Array<[string, number]> {
  return [...scraped].filter(([name]) => name.startsWith(`${metric}{`));
}

const AGE = 'mounted_content_age_seconds';
const HEALTHY = 'provider_healthy';

describe('prometheus PrometheusMetrics', () => {
  const withoutProcess = (): PrometheusMetrics => new PrometheusMetrics({ processMetrics: false });

  const cases: Array<[string, (m: Metrics) => void, string[]]> = [
    ['nodePublish', (m) => m.nodePublish('vault'), ['node_publish_total{provider="vault",os_type="linux"}']],
    [
      'nodePublishError',
      (m) => m.nodePublishError('vault', 'ProviderError'),
      ['node_publish_error_total{provider="vault",error_type="ProviderError",os_type="linux"}'],
    ],
    ['nodeUnpublish', (m) => m.nodeUnpublish(), ['node_unpublish_total{os_type="linux"}']],
    ['nodeUnpublishError', (m) => m.nodeUnpublishError(), ['node_unpublish_error_total{os_type="linux"}']],
    [
      'rotationReconcile',
      (m) => m.rotationReconcile('vault', true, 0.25),
      [
        'rotation_reconcile_total{provider="vault",rotated="true",os_type="linux"}',
        'rotation_reconcile_duration_sec_count{os_type="linux"}',
        'rotation_reconcile_duration_sec_bucket{le="0.3314454017339986",os_type="linux"}',
      ],
    ],
    [
      'rotationReconcileError',
      (m) => m.rotationReconcileError('vault', 'ProviderUnavailable', false),
      ['rotation_reconcile_error_total{provider="vault",error_type="ProviderUnavailable",rotated="false",os_type="linux"}'],
    ],
    [
      'syncK8sSecret',
      (m) => m.syncK8sSecret('vault', 0.05),
      ['sync_k8s_secret_total{provider="vault",os_type="linux"}', 'k8s_secret_duration_sec_count{os_type="linux"}', 'k8s_secret_duration_sec_bucket{le="0.1",os_type="linux"}'],
    ],
    ['providerRequest', (m) => m.providerRequest('vault', 'success'), ['provider_requests_total{provider="vault",result="success",os_type="linux"}']],
    [
      'providerRequest',
      (m) => m.providerRequest('vault', 'ProviderUnavailable'),
      ['provider_requests_total{provider="vault",result="ProviderUnavailable",os_type="linux"}'],
    ],
    ['rotationSkipped', (m) => m.rotationSkipped('not-due'), ['rotation_skipped_total{reason="not-due",os_type="linux"}']],
  ];
  for (const [method, drive, series] of cases) {
    it(`${method} counts one in ${series.join(', ')}`, async () => {
      const metrics = withoutProcess();
      drive(metrics);
      const scraped = samples(await metrics.scrape());
      for (const name of series) expect(scraped.get(name), name).to.equal(1);
    });
  }

  it('sums histogram observations and fills the upstream buckets cumulatively', async () => {
    const metrics = withoutProcess();
    metrics.rotationReconcile('vault', false, 0.05);
    metrics.rotationReconcile('vault', false, 1.5);
    metrics.rotationReconcile('vault', true, 45);
    const scraped = samples(await metrics.scrape());
    expect(scraped.get('rotation_reconcile_duration_sec_sum{os_type="linux"}')).to.be.closeTo(46.55, 1e-9);
    expect(scraped.get('rotation_reconcile_duration_sec_count{os_type="linux"}')).to.equal(3);
    expect(scraped.get('rotation_reconcile_duration_sec_bucket{le="0.1",os_type="linux"}')).to.equal(1);
    expect(scraped.get('rotation_reconcile_duration_sec_bucket{le="1.4822688982138947",os_type="linux"}')).to.equal(1);
    expect(scraped.get('rotation_reconcile_duration_sec_bucket{le="1.9999999999999991",os_type="linux"}')).to.equal(2);
    expect(scraped.get('rotation_reconcile_duration_sec_bucket{le="+Inf",os_type="linux"}')).to.equal(3);
    const bounds = [...scraped.keys()].flatMap((key) => /^rotation_reconcile_duration_sec_bucket\{le="([^"]+)"/.exec(key)?.[1] ?? []);
    expect(bounds).to.deep.equal([...DURATION_BUCKETS.map(String), '+Inf']);
  });

  it('labels every series of the driver\'s metrics with the upstream exporter\'s scope, and no process metric', async () => {
    const metrics = new PrometheusMetrics();
    metrics.nodePublish('vault');
    metrics.rotationReconcile('vault', true, 1);
    metrics.readContentAgeFrom(() => new Map([['vault', 3]]));
    const lines = (await metrics.scrape()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    const driverLines = lines.filter((line) => !/^(process|nodejs)_/.test(line));
    expect(driverLines.length).to.be.greaterThan(10);
    for (const line of driverLines) expect(line, line).to.include(`${SCOPE.slice(1)}}`);
    for (const line of lines.filter((line) => /^(process|nodejs)_/.test(line))) expect(line, line).not.to.include('otel_scope_name');
  });

  it('keeps providers and error types apart', async () => {
    const metrics = withoutProcess();
    metrics.nodePublish('vault');
    metrics.nodePublish('vault');
    metrics.nodePublish('azure');
    metrics.nodePublishError('', 'ClassNotFound');
    const scraped = samples(await metrics.scrape());
    expect(scraped.get('node_publish_total{provider="vault",os_type="linux"}')).to.equal(2);
    expect(scraped.get('node_publish_total{provider="azure",os_type="linux"}')).to.equal(1);
    expect(scraped.get('node_publish_error_total{provider="",error_type="ClassNotFound",os_type="linux"}')).to.equal(1);
  });

  it('shows the series without per-call labels at zero before anything happened', async () => {
    const scraped = samples(await withoutProcess().scrape());
    expect(scraped.get('node_unpublish_total{os_type="linux"}')).to.equal(0);
    expect(scraped.get('node_unpublish_error_total{os_type="linux"}')).to.equal(0);
    expect(scraped.get('rotation_reconcile_duration_sec_count{os_type="linux"}')).to.equal(0);
    expect(scraped.get('k8s_secret_duration_sec_count{os_type="linux"}')).to.equal(0);
  });

  it('never throws, recording a negative or non-finite duration as zero', async () => {
    const metrics = withoutProcess();
    for (const duration of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => metrics.rotationReconcile('vault', false, duration)).not.to.throw();
      expect(() => metrics.syncK8sSecret('vault', duration)).not.to.throw();
    }
    const scraped = samples(await metrics.scrape());
    expect(scraped.get('rotation_reconcile_duration_sec_sum{os_type="linux"}')).to.equal(0);
    expect(scraped.get('k8s_secret_duration_sec_count{os_type="linux"}')).to.equal(3);
  });

  for (const gauge of [AGE, HEALTHY]) {
    it(`has ${gauge} as a gauge with no series until its reader is registered`, async () => {
      const text = await withoutProcess().scrape();
      expect(text).to.match(new RegExp(`^# TYPE ${gauge} gauge$`, 'm'));
      expect(seriesNamed(samples(text), gauge)).to.deep.equal([]);
    });
  }

  describe('mounted_content_age_seconds', () => {
    const ageSeries = (scraped: Map<string, number>): Array<[string, number]> => seriesNamed(scraped, AGE);

    it('reads the registered reader on every scrape, dropping providers that no longer have mounts', async () => {
      const metrics = withoutProcess();
      let ages = new Map([
        ['vault', 30],
        ['azure', 5],
      ]);
      metrics.readContentAgeFrom(() => ages);
      expect(ageSeries(samples(await metrics.scrape()))).to.deep.equal([
        [`${AGE}{provider="vault",os_type="linux"}`, 30],
        [`${AGE}{provider="azure",os_type="linux"}`, 5],
      ]);

      ages = new Map([['vault', 150]]);

      expect(ageSeries(samples(await metrics.scrape()))).to.deep.equal([[`${AGE}{provider="vault",os_type="linux"}`, 150]]);
    });

    it('uses the last registered reader', async () => {
      const metrics = withoutProcess();
      metrics.readContentAgeFrom(() => new Map([['vault', 1]]));
      metrics.readContentAgeFrom(() => new Map([['azure', 2]]));
      expect(ageSeries(samples(await metrics.scrape()))).to.deep.equal([[`${AGE}{provider="azure",os_type="linux"}`, 2]]);
    });

    it('leaves the gauge empty, and the scrape whole, when the reader throws', async () => {
      const metrics = withoutProcess();
      let broken = false;
      metrics.readContentAgeFrom(() => {
        if (broken) throw new Error('registry gone');
        return new Map([['vault', 30]]);
      });
      expect(ageSeries(samples(await metrics.scrape()))).to.have.length(1);
      metrics.nodePublish('vault');
      broken = true;

      const scraped = samples(await metrics.scrape());

      expect(ageSeries(scraped)).to.deep.equal([]);
      expect(scraped.get('node_publish_total{provider="vault",os_type="linux"}')).to.equal(1);
    });

    it('records a negative or non-finite age as zero', async () => {
      const metrics = withoutProcess();
      metrics.readContentAgeFrom(() => new Map([['vault', -3], ['azure', Number.NaN]]));
      expect(ageSeries(samples(await metrics.scrape())).map(([, age]) => age)).to.deep.equal([0, 0]);
    });
  });

  describe('bounded label values', () => {
    it('counts 30 distinct 5 KB provider error codes as one error type, Other', async () => {
      const metrics = withoutProcess();
      const before = Buffer.byteLength(await metrics.scrape());
      for (let i = 0; i < 30; i++) {
        const code = `${i}-${'C'.repeat(5120)}`;
        metrics.providerRequest('vault', code);
        metrics.nodePublishError('vault', code);
        metrics.rotationReconcileError('vault', code, false);
      }
      const text = await metrics.scrape();
      const scraped = samples(text);
      expect(scraped.get('provider_requests_total{provider="vault",result="Other",os_type="linux"}')).to.equal(30);
      expect(scraped.get('node_publish_error_total{provider="vault",error_type="Other",os_type="linux"}')).to.equal(30);
      expect(scraped.get('rotation_reconcile_error_total{provider="vault",error_type="Other",rotated="false",os_type="linux"}')).to.equal(30);
      expect(Buffer.byteLength(text) - before).to.be.below(1024);
    });

    it('keeps the gRPC status names and the driver\'s own error types', async () => {
      const metrics = withoutProcess();
      metrics.providerRequest('vault', 'PERMISSION_DENIED');
      metrics.nodePublishError('vault', 'ProviderAnswerTooLarge');
      metrics.rotationReconcileError('vault', 'SecretSyncFailed', true);
      const scraped = samples(await metrics.scrape());
      expect(scraped.get('provider_requests_total{provider="vault",result="PERMISSION_DENIED",os_type="linux"}')).to.equal(1);
      expect(scraped.get('node_publish_error_total{provider="vault",error_type="ProviderAnswerTooLarge",os_type="linux"}')).to.equal(1);
      expect(scraped.get('rotation_reconcile_error_total{provider="vault",error_type="SecretSyncFailed",rotated="true",os_type="linux"}')).to.equal(1);
    });

    it('reports a provider name no class may use as ""', async () => {
      const metrics = withoutProcess();
      metrics.nodePublishError('p'.repeat(100_000), 'InvalidClass');
      expect(samples(await metrics.scrape()).get('node_publish_error_total{provider="",error_type="InvalidClass",os_type="linux"}')).to.equal(1);
    });
  });

  describe('provider_healthy', () => {
    const healthSeries = (scraped: Map<string, number>): Array<[string, number]> => seriesNamed(scraped, HEALTHY);

    it('is 1 for a provider that answered and 0 for one that did not, as read at each scrape', async () => {
      const metrics = withoutProcess();
      let health = new Map([['vault', true], ['azure', false]]);
      metrics.readProviderHealthFrom(() => health);
      expect(healthSeries(samples(await metrics.scrape()))).to.deep.equal([
        [`${HEALTHY}{provider="vault",os_type="linux"}`, 1],
        [`${HEALTHY}{provider="azure",os_type="linux"}`, 0],
      ]);
      health = new Map([['vault', false]]);
      expect(healthSeries(samples(await metrics.scrape()))).to.deep.equal([[`${HEALTHY}{provider="vault",os_type="linux"}`, 0]]);
    });
  });

  it('adds the process metrics by default', async () => {
    const text = await new PrometheusMetrics().scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds']) {
      expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(await withoutProcess().scrape()).not.to.contain('process_');
  });

  it('keeps each instance on its own registry, away from the global default one', async () => {
    const before = await globalRegistry.metrics();
    const a = withoutProcess();
    const b = withoutProcess();
    a.nodePublish('vault');
    expect(samples(await a.scrape()).get('node_publish_total{provider="vault",os_type="linux"}')).to.equal(1);
    expect(samples(await b.scrape()).has('node_publish_total{provider="vault",os_type="linux"}')).to.equal(false);
    expect(await globalRegistry.metrics()).to.equal(before);
    expect(a.contentType).to.match(/^text\/plain; version=0\.0\.4/);
  });
});
