import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';
import type { NodePublishVolumeRequest } from '../../src/gen/csi/v1/NodePublishVolumeRequest.js';
import { BadInputDriver, NAMESPACE } from './publish-bad-input-harness.js';

/** A bad NodePublishVolume: what to change in a good request, and what the driver must answer. */
interface BadRequest {
  readonly name: string;
  readonly change: (command: PublishCommand, driver: BadInputDriver) => NodePublishVolumeRequest;
  readonly code: status;
  /** Text the status message must contain. */
  readonly mentions: string;
  /** The metric `error_type` the failure is counted under. */
  readonly errorType: string;
}

function without(context: PublishCommand['volumeContext'], ...keys: string[]): Record<string, string> {
  const rest: Record<string, string> = { ...context };
  for (const key of keys) delete rest[key];
  return rest;
}

const BAD_REQUESTS: readonly BadRequest[] = [
  { name: 'no volume_id', change: (c, d) => d.wireRequest(c, { volumeId: '' }), code: status.INVALID_ARGUMENT, mentions: 'volume_id', errorType: 'InvalidVolumeContext' },
  { name: 'no target_path', change: (c, d) => d.wireRequest(c, { targetPath: '' }), code: status.INVALID_ARGUMENT, mentions: 'target_path', errorType: 'InvalidTargetPath' },
  {
    name: 'no volume_capability',
    change: (c, d) => d.wireRequest(c, { volumeCapability: null }),
    code: status.INVALID_ARGUMENT,
    mentions: 'volume_capability',
    errorType: 'InvalidVolumeContext',
  },
  {
    name: 'an empty volume_context',
    change: (c, d) => d.wireRequest(c, { volumeContext: {} }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${VolumeContextKey.secretProviderClass}"`,
    errorType: 'MissingVolumeContext',
  },
  {
    name: 'no secretProviderClass in volume_context',
    change: (c, d) => d.wireRequest(c, { volumeContext: without(c.volumeContext, VolumeContextKey.secretProviderClass) }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${VolumeContextKey.secretProviderClass}"`,
    errorType: 'MissingVolumeContext',
  },
  ...[VolumeContextKey.podName, VolumeContextKey.podNamespace, VolumeContextKey.podUid].map((key): BadRequest => ({
    name: `no ${key} in volume_context (no pod info)`,
    change: (c, d) => d.wireRequest(c, { volumeContext: without(c.volumeContext, key) }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${key}"`,
    errorType: 'MissingVolumeContext',
  })),
  { name: 'readonly false', change: (c, d) => d.wireRequest(c, { readonly: false }), code: status.INVALID_ARGUMENT, mentions: 'readonly', errorType: 'InvalidReadonly' },
  {
    name: 'a class that does not exist',
    change: (c, d) => d.wireRequest(c, { volumeContext: { ...c.volumeContext, [VolumeContextKey.secretProviderClass]: 'no-such-class' } }),
    code: status.NOT_FOUND,
    mentions: `failed to get secretproviderclass ${NAMESPACE}/no-such-class`,
    errorType: 'ClassNotFound',
  },
];

/** Provider names that would reach a socket outside the provider dirs, or in a subdirectory of one. */
const ESCAPING_PROVIDER_NAMES = ['../evil', '../../evil', 'a/b', '../providers/fake', 'a/../../../evil'];

/**
 * Bad NodePublishVolume requests over the driver's real CSI socket, answered by the real core with
 * the real provider client and files: every one fails with its status, names what is wrong, never
 * reaches a provider, writes and mounts nothing, and is counted in node_publish_error_total.
 */
describe('integration: NodePublishVolume with bad input (request and class)', function () {
  this.timeout(30_000);
  let driver: BadInputDriver;

  before(async () => {
    driver = new BadInputDriver();
    await driver.start();
    driver.addClass({ parameters: { objects: 'db-password' } });
    ESCAPING_PROVIDER_NAMES.forEach((provider, index) => driver.addClass({ name: `escaping-${index}`, provider }));
  });

  after(async () => {
    await driver?.dispose();
  });

  it('publishes a well-formed request (the baseline every bad input differs from) and unpublishes it', async () => {
    const command = await driver.newPod();
    await driver.client.publish(command);
    expect(await readFile(join(command.targetPath, 'db-password'), 'utf8')).to.equal('db-password-v1');
    await driver.client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
    await driver.expectNothingAt(command.targetPath);
  });

  for (const bad of BAD_REQUESTS) {
    it(`answers ${status[bad.code]} naming the problem for ${bad.name}, reaching no provider and leaving nothing`, async () => {
      const command = await driver.newPod();
      const mountsBefore = driver.provider.mountCount;
      const error = await driver.publishFailure(bad.change(command, driver));
      expect(status[error.code], error.details).to.equal(status[bad.code]);
      expect(error.details).to.include(bad.mentions);
      expect(driver.provider.mountCount, 'provider Mount calls').to.equal(mountsBefore);
      await driver.expectNothingAt(command.targetPath);
    });
  }

  for (const [index, provider] of ESCAPING_PROVIDER_NAMES.entries()) {
    it(`answers INVALID_ARGUMENT for a class with provider "${provider}" and dials no socket it would resolve to`, async () => {
      // A listening socket wherever `<dir>/<provider>.sock` lands, for both provider dirs.
      const paths = [...new Set([driver.providerDir, driver.extraProviderDir].map((dir) => join(dir, `${provider}.sock`)))];
      const traps = [];
      for (const path of paths.filter((path) => path !== driver.provider.socketPath)) traps.push(await driver.trapSocket(path));
      const command = await driver.newPod(`escaping-${index}`);
      const { mountCount, versionCount } = driver.provider;

      const error = await driver.publishFailure(driver.wireRequest(command));
      expect(status[error.code], error.details).to.equal('INVALID_ARGUMENT');
      expect(error.details).to.include(`invalid provider name "${provider}"`);
      // Give a stray dial time to arrive before checking that none did.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(traps.map((trap) => trap.connections), `connections to ${paths.join(', ')}`).to.deep.equal(traps.map(() => 0));
      expect({ mountCount: driver.provider.mountCount, versionCount: driver.provider.versionCount }).to.deep.equal({ mountCount, versionCount });
      await driver.expectNothingAt(command.targetPath);
    });
  }

  it('counts every bad request in node_publish_error_total with its error_type, and none in node_publish_total', async () => {
    const cases = [
      ...BAD_REQUESTS.map((bad) => ({ name: bad.name, errorType: bad.errorType, provider: '', send: bad.change })),
      {
        name: 'provider "../evil"',
        errorType: 'InvalidClass',
        // A name no class may use is never a label value: the provider is reported as unknown.
        provider: '',
        send: (c: PublishCommand, d: BadInputDriver) => d.wireRequest(c, { volumeContext: { ...c.volumeContext, [VolumeContextKey.secretProviderClass]: 'escaping-0' } }),
      },
    ];
    const published = driver.metrics.count('node_publish_total');
    for (const bad of cases) {
      const before = driver.publishErrors(bad.errorType, bad.provider);
      await driver.publishFailure(bad.send(await driver.newPod(), driver));
      expect(driver.publishErrors(bad.errorType, bad.provider), `node_publish_error_total{provider="${bad.provider}",error_type="${bad.errorType}"} after ${bad.name}`)
        .to.equal(before + 1);
    }
    expect(driver.metrics.count('node_publish_total')).to.equal(published);
  });

  it('counts a NodeUnpublishVolume without volume_id or target_path in node_unpublish_error_total', async () => {
    const command = await driver.newPod();
    const before = driver.metrics.count('node_unpublish_error_total');
    for (const request of [{ volumeId: '', targetPath: command.targetPath }, { volumeId: command.volumeId, targetPath: '' }]) {
      const error = await driver.unpublishFailure(request);
      expect(status[error.code], error.details).to.equal('INVALID_ARGUMENT');
    }
    expect(driver.metrics.count('node_unpublish_error_total')).to.equal(before + 2);
  });
});
