import { expect } from 'chai';
import { FILE_MODE_ANNOTATION } from '../../../src/domain/volume-ownership.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { DriverHarness, objectsParameter } from '../../support/driver-harness.js';

describe("Files' modes and group", () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  const modes = async (target: string) => Object.fromEntries((await harness.mountedFiles(target)).map(({ path, mode }) => [path, mode]));
  const parameters = { objects: objectsParameter('db-password', { name: 'api-key', mode: 0o600 }) };

  it("gives files the class's file-mode where the provider sets none, and tells the provider so; the provider's own modes stay", async () => {
    harness.addClass({ parameters, annotations: { [FILE_MODE_ANNOTATION]: '0440' } });
    const pod = harness.addPod();
    await harness.publish(pod);
    expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o440 });
    expect(harness.fake.requests[0]!.request.permission).to.equal(String(0o440));
  });

  it('with a mount group, files default to 0640 and belong to the group, also after a rotation', async () => {
    harness.addClass({ parameters });
    const pod = harness.addPod();
    await harness.publish(pod, undefined, { volumeMountGroup: '2000' });
    const groups = () => ['db-password', 'api-key'].map((name) => harness.volume.statSync(`${pod.target}/${name}`).gid);
    expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o640 });
    expect(groups()).to.deep.equal([2000, 2000]);
    expect(harness.volume.statSync(pod.target).gid).to.equal(2000);

    harness.store.rotate('db-password');
    await harness.advance(harness.rotation.intervalMs);
    expect((await harness.mountedText(pod.target))['db-password']).to.equal('db-password-v2');
    expect(await modes(pod.target)).to.deep.equal({ 'api-key': 0o600, 'db-password': 0o640 });
    expect(groups()).to.deep.equal([2000, 2000]);
  });

  it('refuses a class whose file-mode is not an octal mode, mounting nothing', async () => {
    harness.addClass({ parameters, annotations: { [FILE_MODE_ANNOTATION]: 'rw-r-----' } });
    const pod = harness.addPod();
    const error = await harness.publish(pod).then(() => undefined, (caught: unknown) => caught);
    expect(error).to.have.property('code', 'InvalidClass');
    expect(harness.exists(pod.target)).to.equal(false);
  });
});
