import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';
import { BAD_REQUESTS, ESCAPING_PROVIDER_NAMES, wireRequest } from './publish-bad-input-corpus.js';
import { BadInputDriver } from './publish-bad-input-harness.js';

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
      const error = await driver.publishFailure(bad.change(command));
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

      const error = await driver.publishFailure(wireRequest(command));
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
        send: (c: PublishCommand) => wireRequest(c, { volumeContext: { ...c.volumeContext, [VolumeContextKey.secretProviderClass]: 'escaping-0' } }),
      },
    ];
    const published = driver.metrics.count('node_publish_total');
    for (const bad of cases) {
      const before = driver.publishErrors(bad.errorType, bad.provider);
      await driver.publishFailure(bad.send(await driver.newPod()));
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
