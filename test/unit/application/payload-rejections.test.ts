import { expect } from 'chai';
import type { DomainErrorCode } from '../../../src/domain/errors.js';
import type { SecretFile } from '../../../src/domain/secret-payload.js';
import { aFile } from '../../support/builders.js';
import { expectNoSecretLeaked, expectNothingWritten, expectRejection } from '../../support/driver-assertions.js';
import { aSyncedPassword, DriverHarness, type TestPod } from '../../support/driver-harness.js';

interface BadPayload {
  readonly files: readonly SecretFile[];
  readonly code: DomainErrorCode;
}

const badPayloads: Record<string, BadPayload> = {
  'an absolute path': { files: [aFile('/etc/passwd', 'x')], code: 'InvalidPayloadPath' },
  'a path containing ..': { files: [aFile('certs/../../escape', 'x')], code: 'InvalidPayloadPath' },
  'a first element starting with ..': { files: [aFile('..data', 'x')], code: 'InvalidPayloadPath' },
  'an empty path': { files: [aFile('', 'x')], code: 'InvalidPayloadPath' },
  'an unnormalised path': { files: [aFile('certs//./ca.pem', 'x')], code: 'InvalidPayloadPath' },
  'a path longer than 4096 bytes': { files: [aFile(`${'d/'.repeat(2048)}f`, 'x')], code: 'InvalidPayloadPath' },
  'a path element longer than 255 bytes': { files: [aFile('e'.repeat(256), 'x')], code: 'InvalidPayloadPath' },
  'the same path twice': { files: [aFile('db-password', 'one'), aFile('db-password', 'two')], code: 'DuplicatePayloadPath' },
  'a file that is also a directory': { files: [aFile('certs', 'x'), aFile('certs/ca.pem', 'y')], code: 'DuplicatePayloadPath' },
};

describe('Refusing an unsafe provider payload or an unsatisfiable secretObject', () => {
  let harness: DriverHarness;
  let pod: TestPod;

  beforeEach(() => {
    harness = new DriverHarness();
    pod = harness.addPod();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  describe('on the first publish', () => {
    beforeEach(() => harness.addClass({ secretObjects: [aSyncedPassword()] }));

    for (const [name, { files, code }] of Object.entries(badPayloads)) {
      it(`refuses ${name} (${code}) and writes nothing`, async () => {
        harness.provider.answerFiles(files);

        await expectRejection(harness.publish(pod), code);

        expect(harness.metrics.count('node_publish_error_total', { error_type: code })).to.equal(1);
        await expectNothingWritten(harness, pod);
      });
    }
  });

  describe('on a rotation check', () => {
    beforeEach(() => harness.addClass({ secretObjects: [aSyncedPassword()] }));

    for (const [name, { files, code }] of Object.entries(badPayloads)) {
      it(`refuses ${name} (${code}) and keeps the mount, the pod status and the Secret as they were`, async () => {
        await harness.publish(pod);
        const before = await harness.snapshot(pod.target);
        const statusBefore = harness.podStatus(pod)?.status;
        const secretVersion = harness.secret('app-synced')?.metadata.resourceVersion;
        harness.store.rotate('db-password');
        harness.provider.answerWith((answer) => ({ ...answer, files }));

        await harness.advance(harness.rotation.intervalMs);

        expect(await harness.snapshot(pod.target)).to.deep.equal(before);
        const { lastRotationError, nextRotationTime, ...statusAfter } = harness.podStatus(pod)?.status ?? {};
        expect(statusAfter, 'the mounted versions stay').to.deep.equal(statusBefore);
        expect(nextRotationTime).to.be.a('string');
        expect(harness.secret('app-synced')?.metadata.resourceVersion).to.equal(secretVersion);
        const [failed] = harness.events('MountRotationFailed');
        expect(failed?.type).to.equal('Warning');
        expect(failed?.message).to.equal(`failed to rotate mounted contents: ${lastRotationError}`);
        expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: code })).to.equal(1);
      });
    }
  });

  describe('secretObjects that cannot be satisfied', () => {
    it('refuses a secretObject naming a file that is not mounted (SecretObjectFileMissing) and writes nothing', async () => {
      harness.addClass({ secretObjects: [{ ...aSyncedPassword(), data: [{ objectName: 'not-mounted', key: 'password' }] }] });

      await expectRejection(harness.publish(pod), 'SecretObjectFileMissing');

      await expectNothingWritten(harness, pod);
    });

    it('refuses a secretObject with an invalid Secret type (InvalidSecretType) and writes nothing', async () => {
      harness.addClass({ secretObjects: [{ ...aSyncedPassword(), type: 'kubernetes.io/made-up' }] });

      await expectRejection(harness.publish(pod), 'InvalidSecretType');

      await expectNothingWritten(harness, pod);
    });

    it('keeps the mount and the Secret when a class edit makes a secretObject name a missing file', async () => {
      harness.addClass({ secretObjects: [aSyncedPassword()] });
      await harness.publish(pod);
      const before = await harness.snapshot(pod.target);
      harness.store.rotate('db-password');

      await harness.editClass('app-secrets', (spc) => {
        spc.spec!.secretObjects = [{ ...aSyncedPassword(), data: [{ objectName: 'not-mounted', key: 'password' }] }];
      });
      await harness.advance(0);

      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
      expect(harness.events('MountRotationFailed')[0]?.message).to.contain('not-mounted');
    });

    it('keeps the mount when a class edit gives a secretObject an invalid Secret type', async () => {
      harness.addClass({ secretObjects: [aSyncedPassword()] });
      await harness.publish(pod);
      const before = await harness.snapshot(pod.target);

      await harness.editClass('app-secrets', (spc) => {
        spc.spec!.secretObjects = [{ ...aSyncedPassword(), type: 'kubernetes.io/made-up' }];
        spc.spec!.parameters = { objects: 'db-password api-key' };
      });
      await harness.advance(0);

      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: 'InvalidSecretType' })).to.equal(1);
    });
  });
});
