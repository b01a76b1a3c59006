import { expect } from 'chai';
import type { InProcessFailure } from '../../../src/adapters/fake-provider/in-process-provider.js';
import type { MetricLabels } from '../../../src/adapters/memory-metrics/memory-metrics.js';
import { FetchSecrets } from '../../../src/application/fetch-secrets.js';
import { FETCH_SHARING_ANNOTATION } from '../../../src/domain/fetch-key.js';
import { parseVolumeRequest, type VolumeRequest } from '../../../src/domain/volume-binding.js';
import { KUBELET_ROOT } from '../../support/builders.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { DriverHarness } from '../../support/driver-harness.js';

describe('provider_requests_total: one count per provider Mount call made', () => {
  let harness: DriverHarness;
  let fetch: FetchSecrets;
  let request: VolumeRequest;

  const requests = (labels: MetricLabels = {}): number => harness.metrics.count('provider_requests_total', labels);

  beforeEach(() => {
    harness = new DriverHarness({ startRotationLoop: false });
    harness.addClass();
    fetch = harness.container.get(FetchSecrets);
    request = parseVolumeRequest(harness.commandFor(harness.addPod()), KUBELET_ROOT);
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  const outcomes: Array<[string, InProcessFailure | undefined, string]> = [
    ['an answer without error code', undefined, 'success'],
    ["an answer with the provider's own error code", { kind: 'provider-error', code: 'Throttled' }, 'Other'],
    ['an answer with a gRPC status name as error code', { kind: 'provider-error', code: 'PERMISSION_DENIED' }, 'PERMISSION_DENIED'],
    ['a call that rejects', { kind: 'unavailable' }, 'ProviderUnavailable'],
  ];
  for (const [outcome, failure, result] of outcomes) {
    it(`counts ${outcome} as result "${result}"`, async () => {
      harness.fake.fail(failure);

      await fetch.execute(request, []).catch(() => undefined);

      expect(harness.provider.calls).to.equal(1);
      expect(requests()).to.equal(1);
      expect(requests({ provider: 'fake', result, os_type: 'linux' })).to.equal(1);
    });
  }

  it('counts two callers joined by single-flight as one call', async () => {
    await Promise.all([fetch.execute(request, []), fetch.execute(request, [])]);

    expect(harness.provider.calls).to.equal(1);
    expect(requests({ result: 'success' })).to.equal(1);
  });

  it('counts nothing when the fetch never reaches the provider', async () => {
    const missing = parseVolumeRequest(harness.commandFor(harness.addPod({ name: 'other' }), 'missing'), KUBELET_ROOT);

    await fetch.execute(missing, []).catch(() => undefined);

    expect(requests()).to.equal(0);
  });
});

describe('provider_requests_total in a rotation pass that shares one call among bindings', () => {
  it('counts the shared call once', async () => {
    const harness = new DriverHarness();
    harness.addClass({ annotations: { [FETCH_SHARING_ANNOTATION]: 'serviceaccount' } });
    await harness.publish(harness.addPod({ name: 'app-0' }));
    await harness.publish(harness.addPod({ name: 'app-1' }));

    await harness.advance(harness.rotation.intervalMs);

    expect(harness.provider.calls, 'two publishes, then one shared rotation call').to.equal(3);
    expect(harness.metrics.count('provider_requests_total', { provider: 'fake', result: 'success' })).to.equal(3);
    expectNoSecretLeaked(harness);
    await harness.stop();
  });
});
