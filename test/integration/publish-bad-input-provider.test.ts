import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { CsiCallError } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { eventually } from '../contract/eventually.js';
import { BAD_ANSWERS, RECV_LIMIT, withFileAt } from './publish-bad-input-corpus.js';
import { BadInputDriver } from './publish-bad-input-harness.js';

async function callError(call: Promise<unknown>): Promise<CsiCallError> {
  try {
    await call;
  } catch (error) {
    expect(error).to.be.instanceOf(CsiCallError);
    return error as CsiCallError;
  }
  return expect.fail('expected the CSI call to fail');
}

describe('integration: NodePublishVolume with a misbehaving provider', function () {
  this.timeout(30_000);

  describe('answers the driver must refuse', () => {
    let driver: BadInputDriver;

    before(async () => {
      driver = new BadInputDriver();
      await driver.start({ maxCallRecvMsgSize: RECV_LIMIT });
      driver.addClass({ parameters: { objects: 'db-password' } });
    });

    afterEach(() => driver?.provider.setAnswer(undefined));

    after(async () => {
      await driver?.dispose();
    });

    for (const bad of BAD_ANSWERS) {
      it(`answers ${bad.code} for ${bad.name}, writes nothing and mounts nothing`, async () => {
        const command = await driver.newPod();
        const before = driver.publishErrors(bad.errorType, 'fake');
        driver.provider.setAnswer(bad.transform);

        const error = await callError(driver.client.publish(command));
        expect(error.code, error.details).to.equal(bad.code);
        expect(error.details).to.include(bad.mentions);
        expect(driver.provider.mountCount, 'the provider was asked').to.be.greaterThan(0);
        await driver.expectNothingAt(command.targetPath);
        if (bad.escapesTo !== undefined) {
          const landing = resolve(command.targetPath, bad.escapesTo);
          expect(existsSync(landing), `${bad.escapesTo} -> ${landing}`).to.equal(false);
        }
        expect(driver.publishErrors(bad.errorType, 'fake'), `node_publish_error_total{provider="fake",error_type="${bad.errorType}"}`).to.equal(before + 1);
      });
    }

    it('publishes normally once the provider answers well again (nothing was left in the way)', async () => {
      const command = await driver.newPod();
      driver.provider.setAnswer(withFileAt('../x'));
      await callError(driver.client.publish(command));
      driver.provider.setAnswer(undefined);
      await driver.client.publish(command);
      expect(await readFile(join(command.targetPath, 'db-password'), 'utf8')).to.equal('db-password-v1');
      await driver.client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
      await driver.expectNothingAt(command.targetPath);
    });
  });

  describe('a provider that hangs', () => {
    /** The driver gives up on a provider call after this long (GrpcSecretProvider callTimeoutMs). */
    const PROVIDER_TIMEOUT_MS = 1_000;
    /** The fake kubelet's deadline for each call here: well before the driver gives up. */
    const KUBELET_DEADLINE_MS = 200;
    let driver: BadInputDriver;

    before(async () => {
      driver = new BadInputDriver();
      await driver.start({ providerCallTimeoutMs: PROVIDER_TIMEOUT_MS });
      driver.addClass({ parameters: { objects: 'db-password' } });
    });

    afterEach(() => driver?.provider.clearFailure());

    after(async () => {
      await driver?.dispose();
    });

    it('ends the CSI call at the client deadline with DEADLINE_EXCEEDED and leaves the target neither mounted nor written once the driver gives up', async () => {
      const command = await driver.newPod();
      const timedOut = driver.publishErrors('ProviderUnavailable', 'fake');
      driver.provider.setFailure({ delayMs: 60_000, times: 1 });

      const startedAt = performance.now();
      const error = await callError(driver.client.publish(command, { timeoutMs: KUBELET_DEADLINE_MS }));
      const elapsed = performance.now() - startedAt;
      expect(error.code, error.details).to.equal('DEADLINE_EXCEEDED');
      expect(elapsed, 'the call ended at the client deadline, not the driver timeout').to.be.lessThan(PROVIDER_TIMEOUT_MS);

      // kubelet retries while the driver still waits for the provider: the target is busy, "maybe in progress".
      const busy = await callError(driver.client.publish(command, { timeoutMs: 5_000 }));
      expect(busy.code, busy.details).to.equal('ABORTED');

      // The driver's own call to the provider times out: the publish fails there and is counted.
      await eventually(() => {
        expect(driver.publishErrors('ProviderUnavailable', 'fake'), driver.logs()).to.equal(timedOut + 1);
      }, PROVIDER_TIMEOUT_MS + 5_000, 20);
      expect(driver.log.join('\n')).to.include(`timed out after ${PROVIDER_TIMEOUT_MS}ms`);
      await driver.expectNothingAt(command.targetPath);

      // kubelet's next retry, with the provider well again, mounts from scratch.
      await driver.client.publish(command, { timeoutMs: 10_000 });
      expect(await readFile(join(command.targetPath, 'db-password'), 'utf8')).to.equal('db-password-v1');
      await driver.client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
      await driver.expectNothingAt(command.targetPath);
    });

    it('completes the whole mount when the provider answers after the CSI deadline but within the driver timeout; the retry is a republish', async () => {
      const command = await driver.newPod();
      const published = driver.metrics.count('node_publish_total', { provider: 'fake' });
      driver.provider.setFailure({ delayMs: 2 * KUBELET_DEADLINE_MS, times: 1 });

      const error = await callError(driver.client.publish(command, { timeoutMs: KUBELET_DEADLINE_MS / 2 }));
      expect(error.code, error.details).to.equal(status[status.DEADLINE_EXCEEDED]);
      await eventually(() => {
        expect(driver.metrics.count('node_publish_total', { provider: 'fake' }), driver.logs()).to.equal(published + 1);
      }, PROVIDER_TIMEOUT_MS + 5_000, 20);
      // Either nothing or everything: here everything, on its own tmpfs (or directory).
      expect(await readFile(join(command.targetPath, 'db-password'), 'utf8')).to.equal('db-password-v1');

      const mountsBefore = driver.provider.mountCount;
      await driver.client.publish(command, { timeoutMs: 10_000 });
      expect(driver.provider.mountCount, 'a republish that is not due asks no provider').to.equal(mountsBefore);
      await driver.client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
      await driver.expectNothingAt(command.targetPath);
    });
  });
});
