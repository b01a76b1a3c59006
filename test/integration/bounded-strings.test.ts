import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { CsiCallError } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { ProviderAnswerLimit } from '../../src/domain/provider-request.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { csiCallErrorOf } from '../support/driver-assertions.js';
import { BadInputDriver } from './publish-bad-input-harness.js';

/** A volume-context value as a pod author may write one into the inline volume's attributes. */
const HUGE_VALUE = 'v'.repeat(3_500_000);
const LOG_BUDGET_PER_CALL = 2048;

/**
 * The real node agent (CSI server on a unix socket, real logger at -v=4, gRPC to the fake provider over its
 * socket, tmpfs when this process may mount) fed pod- and provider-controlled text of megabytes.
 */
describe('integration: hostile strings stay bounded', function () {
  this.timeout(60_000);
  let driver: BadInputDriver;

  before(async () => {
    driver = new BadInputDriver();
    await driver.start();
    driver.addClass({ parameters: { objects: 'db-password' } });
  });

  afterEach(() => driver?.provider.setAnswer(undefined));

  after(async () => {
    await driver?.dispose();
  });

  /** Bytes the driver logs (debug included) while `call` runs; the logger writes synchronously, before the answer. */
  async function logBytesOf(call: () => Promise<unknown>): Promise<{ bytes: number; lines: string[] }> {
    const from = driver.log.length;
    await call();
    const lines = driver.log.slice(from);
    return { bytes: lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0), lines };
  }

  describe(`a ${HUGE_VALUE.length / 1e6} MB volume-context value`, () => {
    let command: PublishCommand;

    before(async () => {
      command = await driver.newPod();
      command = { ...command, volumeContext: { ...command.volumeContext, huge: HUGE_VALUE } };
    });

    it(`adds less than ${LOG_BUDGET_PER_CALL} bytes to the log per publish and per republish, and reaches the provider whole`, async () => {
      const publish = await logBytesOf(() => driver.client.publish(command));
      const republish = await logBytesOf(() => driver.client.publish(command));

      expect(publish.bytes, publish.lines.join('\n')).to.be.below(LOG_BUDGET_PER_CALL);
      expect(republish.bytes, republish.lines.join('\n')).to.be.below(LOG_BUDGET_PER_CALL);
      // The debug line names the key and its size, never the value.
      expect(publish.lines.join('\n')).to.match(/huge\\?":\\?"\[3500000 bytes\]/).and.not.contain('v'.repeat(600));
      expect((JSON.parse(driver.provider.lastMountRequest!.attributes) as Record<string, string>)['huge']).to.equal(HUGE_VALUE);
      expect(await readFile(join(command.targetPath, 'db-password'), 'utf8')).to.equal('db-password-v1');
      await driver.client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
    });

    it('as the class name: a bounded NOT_FOUND for kubelet and a bounded log', async () => {
      const stray = await driver.newPod();
      const request = { ...stray, volumeContext: { ...stray.volumeContext, secretProviderClass: HUGE_VALUE } };
      let error: CsiCallError | undefined;
      const failed = await logBytesOf(async () => (error = await csiCallErrorOf(driver.client.publish(request))));

      expect(error!.code).to.equal('NOT_FOUND');
      expect(Buffer.byteLength(error!.details)).to.be.at.most(2048);
      expect(error!.details).to.match(/^failed to get secretproviderclass default\/v+… \(truncated, \d+ bytes\)$/);
      expect(failed.bytes, failed.lines.join('\n')).to.be.below(LOG_BUDGET_PER_CALL);
      await driver.expectNothingAt(stray.targetPath);
    });
  });

  describe('a provider answering 100,000 object versions', () => {
    it('is refused with FAILED_PRECONDITION naming the count and the limit, before anything is mounted or written', async () => {
      const command = await driver.newPod();
      const before = driver.publishErrors('ProviderAnswerTooLarge', 'fake');
      driver.provider.setAnswer((answer) => ({
        ...answer,
        objectVersion: Array.from({ length: 100_000 }, (_, i) => ({ id: `secret/object-${i}`, version: 'v1' })),
      }));

      const error = await csiCallErrorOf(driver.client.publish(command));

      expect(error.code).to.equal('FAILED_PRECONDITION');
      expect(error.details).to.equal(`provider "fake" returned 100000 object versions; at most ${ProviderAnswerLimit.objectVersions} are accepted`);
      await driver.expectNothingAt(command.targetPath);
      expect(driver.cluster.list('SecretProviderClassPodStatus', { namespace: 'default' }).filter((s) => s.status?.targetPath === command.targetPath)).to.deep.equal([]);
      expect(driver.publishErrors('ProviderAnswerTooLarge', 'fake')).to.equal(before + 1);
    });
  });
});
