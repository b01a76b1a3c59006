import { expect } from 'chai';
import { toKubeTime } from '../../../src/adapters/kube-objects/object-shapes.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { CLASS_NAME, DriverHarness, type TestPod } from '../../support/driver-harness.js';

const AUDIENCE = 'vault';
/** The lifetime the CSIDriver asks for the audience's tokens: 20 minutes, not the API server's default hour. */
const EXPIRATION_SECONDS = 1200;

/** The tokens JSON the provider received in the n-th Mount call. */
function tokensSent(harness: DriverHarness, call: number): Record<string, { token: string; expirationTimestamp: string }> {
  const attributes = JSON.parse(harness.fake.requests[call]!.request.attributes) as Record<string, string>;
  return JSON.parse(attributes[VolumeContextKey.serviceAccountTokens]!) as Record<string, { token: string; expirationTimestamp: string }>;
}

describe('Credentials of rotation checks', () => {
  let harness: DriverHarness;
  let pod: TestPod;
  const interval = (): number => harness.rotation.intervalMs;

  /** Publishes with kubelet's token for the audience, valid for `lifetimeMs` from now. */
  async function publishWithKubeletToken(lifetimeMs: number): Promise<void> {
    const tokens = JSON.stringify({ [AUDIENCE]: { token: 'kubelet-token', expirationTimestamp: toKubeTime(harness.clock.now() + lifetimeMs) } });
    const command = harness.commandFor(pod);
    await harness.publish(pod, CLASS_NAME, { volumeContext: { ...command.volumeContext, [VolumeContextKey.serviceAccountTokens]: tokens } });
  }

  beforeEach(() => {
    harness = new DriverHarness({ tokenRequests: [{ audience: AUDIENCE, expirationSeconds: EXPIRATION_SECONDS }] });
    harness.addClass();
    pod = harness.addPod();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  it("passes kubelet's token on while it is valid: nothing is minted", async () => {
    await publishWithKubeletToken(10 * interval());

    await harness.advance(interval());

    expect(harness.fake.requests).to.have.length(2);
    expect(tokensSent(harness, 1)[AUDIENCE]?.token).to.equal('kubelet-token');
  });

  it("mints a token for the CSIDriver's audience once kubelet's has expired, and reuses it while it is valid", async () => {
    await publishWithKubeletToken(interval() / 2);

    await harness.advance(interval());
    const mintedAt = harness.clock.now();
    await harness.advance(interval());

    const [first, second] = [tokensSent(harness, 1)[AUDIENCE]!, tokensSent(harness, 2)[AUDIENCE]!];
    expect(first.token).to.match(/^memory-cluster-token:default:app:vault:/);
    expect(second.token, 'the minted token is kept in the binding').to.equal(first.token);
    expect(Date.parse(first.expirationTimestamp), "the CSIDriver's lifetime").to.equal(mintedAt + EXPIRATION_SECONDS * 1000);
  });

  it("a kubelet republish brings fresh tokens that replace the minted ones", async () => {
    await publishWithKubeletToken(interval() / 2);
    await harness.advance(interval());

    await publishWithKubeletToken(10 * interval());
    await harness.advance(interval());

    expect(tokensSent(harness, 2)[AUDIENCE]?.token).to.equal('kubelet-token');
  });
});
