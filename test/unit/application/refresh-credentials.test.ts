import { expect } from 'chai';
import { ManualClock } from '../../../src/adapters/clock/manual-clock.js';
import type { PodResource } from '../../../src/adapters/kube-objects/object-shapes.js';
import { InMemoryCluster } from '../../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryPodSource } from '../../../src/adapters/memory-cluster/memory-pod-source.js';
import { MemorySecretSink } from '../../../src/adapters/memory-cluster/memory-secret-sink.js';
import { MemoryTokenAudiences } from '../../../src/adapters/memory-cluster/memory-token-audiences.js';
import { MemoryTokenSource } from '../../../src/adapters/memory-cluster/memory-token-source.js';
import { RefreshCredentials } from '../../../src/application/refresh-credentials.js';
import { DomainError } from '../../../src/domain/errors.js';
import type { CurrentSecret } from '../../../src/domain/secret-sync-plan.js';
import type { TokenRequest } from '../../../src/domain/service-account-tokens.js';
import { parseVolumeRequest, type PodIdentity, type StringMap, type VolumeRequest } from '../../../src/domain/volume-binding.js';
import type { PodInfo, PodSource } from '../../../src/ports/pod-source.js';
import type { SecretSink } from '../../../src/ports/secret-sink.js';
import type { TokenSource } from '../../../src/ports/token-source.js';
import { aPublishCommand, KUBELET_ROOT } from '../../support/builders.js';
import { aPodResource, aSecretResource } from '../../support/cluster-builders.js';
import { CollectingLogger } from '../../support/driver-harness.js';
import { tokensUsable } from '../../support/service-account-tokens.js';

const POD_UID = 'pod-uid-1';
const MINUTE = 60_000;
/** A CSIDriver that asks 20-minute tokens for "vault" and tokens of the API server's default lifetime for "aws". */
const VAULT_AND_AWS: readonly TokenRequest[] = [{ audience: 'vault', expirationSeconds: 1200 }, { audience: 'aws' }];

/** The TokenSource of the memory profile, counting its calls and failing when told to. */
class TokenSourceDouble implements TokenSource {
  readonly calls: { pod: PodIdentity; requests: readonly TokenRequest[] }[] = [];
  failure: Error | undefined;

  constructor(private readonly inner: TokenSource) {}

  async tokensFor(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    this.calls.push({ pod, requests });
    if (this.failure) throw this.failure;
    return this.inner.tokensFor(pod, requests);
  }
}

/** Counts the reads of the cluster the use case makes (the common path must make none). */
class CountingReads implements PodSource {
  reads = 0;

  constructor(
    private readonly pods: PodSource,
    private readonly secrets: SecretSink,
  ) {}

  async get(namespace: string, name: string): Promise<PodInfo | undefined> {
    this.reads += 1;
    return this.pods.get(namespace, name);
  }

  onChange(listener: (pod: PodInfo) => void): () => void {
    return this.pods.onChange(listener);
  }

  readonly secretSink: SecretSink = {
    get: async (namespace: string, name: string): Promise<CurrentSecret | undefined> => {
      this.reads += 1;
      return this.secrets.get(namespace, name);
    },
    create: (secret) => this.secrets.create(secret),
    patch: (namespace, name, patch) => this.secrets.patch(namespace, name, patch),
  };
}

interface Setup {
  /** The CSIDriver's tokenRequests (default: one for "vault", without expirationSeconds). */
  readonly tokenRequests?: readonly TokenRequest[];
  /** The Secret the pod's volume names as nodePublishSecretRef (none when absent). */
  readonly secretRef?: string;
  /** The pod in the cluster has another uid: it was recreated under the same name. */
  readonly podRecreated?: boolean;
}

/** Kubelet's token JSON with the given expirations (relative to the clock's now). */
function kubeletTokens(clock: ManualClock, expiresInMs: Readonly<Record<string, number>>): string {
  const entries = Object.entries(expiresInMs).map(([audience, ms]) => [
    audience,
    { token: `kubelet-token-${audience}`, expirationTimestamp: new Date(clock.now() + ms).toISOString() },
  ]);
  return JSON.stringify(Object.fromEntries(entries));
}

describe('RefreshCredentials', () => {
  let clock: ManualClock;
  let cluster: InMemoryCluster;
  let tokens: TokenSourceDouble;
  let reads: CountingReads;
  let logger: CollectingLogger;

  function refreshCredentials(setup: Setup = {}): RefreshCredentials {
    clock = new ManualClock();
    cluster = new InMemoryCluster({ clock });
    const pod: PodResource = aPodResource({ uid: setup.podRecreated ? 'another-uid' : POD_UID });
    if (setup.secretRef) pod.spec!.volumes![0]!.csi!.nodePublishSecretRef = { name: setup.secretRef };
    cluster.create(pod);
    cluster.create(aSecretResource({ name: 'provider-creds', data: { clientid: 'id-1', clientsecret: 'sécret' } }));
    tokens = new TokenSourceDouble(new MemoryTokenSource(clock));
    reads = new CountingReads(new MemoryPodSource(cluster), new MemorySecretSink(cluster));
    logger = new CollectingLogger();
    return new RefreshCredentials(new MemoryTokenAudiences(setup.tokenRequests ?? [{ audience: 'vault' }]), tokens, reads, reads.secretSink, clock, logger);
  }

  /** A request as kubelet's (re)publish made it: tokens JSON or none, nodePublishSecretRef data or none. */
  function request(serviceAccountTokens: string | undefined, nodePublishSecrets: StringMap = {}): VolumeRequest {
    return { ...parseVolumeRequest(aPublishCommand({ podUid: POD_UID }), KUBELET_ROOT), serviceAccountTokens, nodePublishSecrets };
  }

  describe('returns the request itself when nothing needs refreshing', () => {
    const cases: Array<[string, Setup, (clock: ManualClock) => VolumeRequest]> = [
      ['with kubelet\'s tokens fresh for every audience', { tokenRequests: VAULT_AND_AWS }, (c) => request(kubeletTokens(c, { vault: 10 * MINUTE, aws: 5 * MINUTE }), { clientid: 'id-1' })],
      ['when the CSIDriver names no audience and kubelet sent no tokens', { tokenRequests: [] }, () => request(undefined, { clientid: 'id-1' })],
      ['when the CSIDriver names no audience, keeping what kubelet sent', { tokenRequests: [] }, (c) => request(kubeletTokens(c, { old: -MINUTE }), { clientid: 'id-1' })],
      ['with kubelet\'s nodePublishSecretRef data, without reading the Secret again', { secretRef: 'provider-creds' }, (c) => request(kubeletTokens(c, { vault: 10 * MINUTE }), { clientid: 'id-0' })],
    ];
    for (const [name, setup, build] of cases) {
      it(`${name}, asking nothing of the cluster or TokenRequest`, async () => {
        const refresh = refreshCredentials(setup);
        const given = build(clock);
        expect(await refresh.execute(given)).to.equal(given);
        expect(tokens.calls).to.deep.equal([]);
        expect(reads.reads).to.equal(0);
      });
    }

    const podCases: Array<[string, Setup]> = [
      ['when the pod\'s volume names no nodePublishSecretRef', {}],
      ['when the pod was recreated under the same name (its volumes are not this binding\'s)', { secretRef: 'provider-creds', podRecreated: true }],
    ];
    for (const [name, setup] of podCases) {
      it(`${name}, after one look at the pod`, async () => {
        const refresh = refreshCredentials(setup);
        const given = request(kubeletTokens(clock, { vault: 10 * MINUTE }));
        expect(await refresh.execute(given)).to.equal(given);
        expect(reads.reads).to.equal(1);
        expect(tokens.calls).to.deep.equal([]);
      });
    }
  });

  describe('requests new tokens for the CSIDriver audiences', () => {
    const cases: Array<[string, (clock: ManualClock) => string | undefined]> = [
      ['when kubelet\'s have expired', (c) => kubeletTokens(c, { vault: -MINUTE, aws: -MINUTE })],
      ['when one of kubelet\'s expires within the refresh margin', (c) => kubeletTokens(c, { vault: 30_000, aws: 10 * MINUTE })],
      ['when kubelet sent none for an audience', (c) => kubeletTokens(c, { vault: 10 * MINUTE })],
      ['after a restart, when the binding has none', () => undefined],
      ['when kubelet\'s cannot be read', () => '{"vault":'],
    ];
    for (const [name, given] of cases) {
      it(name, async () => {
        const refresh = refreshCredentials({ tokenRequests: VAULT_AND_AWS });
        const before = request(given(clock), { clientid: 'id-1' });

        const after = await refresh.execute(before);

        expect(tokens.calls).to.deep.equal([{ pod: before.pod, requests: VAULT_AND_AWS }]);
        expect(tokensUsable(after.serviceAccountTokens, ['vault', 'aws'], clock.now())).to.equal(true);
        expect(after.serviceAccountTokens).to.match(/memory-cluster-token/);
        expect(after).to.deep.equal({ ...before, serviceAccountTokens: after.serviceAccountTokens });
      });
    }

    it("with each audience's lifetime from the CSIDriver, the API server's default hour where it names none", async () => {
      const refresh = refreshCredentials({ tokenRequests: VAULT_AND_AWS });

      const after = await refresh.execute(request(undefined, { clientid: 'id-1' }));

      const minted = JSON.parse(after.serviceAccountTokens!) as Record<string, { expirationTimestamp: string }>;
      expect(Date.parse(minted['vault']!.expirationTimestamp)).to.equal(clock.now() + 20 * MINUTE);
      expect(Date.parse(minted['aws']!.expirationTimestamp)).to.equal(clock.now() + 60 * MINUTE);
    });

    it('logs why, naming the pod and audiences and no token', async () => {
      const refresh = refreshCredentials();
      await refresh.execute(request(kubeletTokens(clock, { vault: -MINUTE }), { clientid: 'id-1' }));
      expect(logger.lines).to.have.length(1);
      expect(logger.lines[0]).to.match(/^debug requesting service-account tokens .*"pod":"default\/app-0".*"audiences":\["vault"\].*expired at/);
      expect(logger.lines[0]).not.to.match(/kubelet-token|memory-cluster-token/);
    });

    it('rejects with the TokenRequest failure, which quotes no token', async () => {
      const refresh = refreshCredentials();
      tokens.failure = new DomainError('Internal', 'failed to request a token for serviceaccount default/app (pod app-0, audience "vault"): forbidden');
      const expired = kubeletTokens(clock, { vault: -MINUTE });

      const failure = await refresh.execute(request(expired, { clientid: 'id-1' })).then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(failure).to.equal(tokens.failure);
      expect((failure as Error).message).not.to.include('kubelet-token');
    });
  });

  describe('reads the nodePublishSecretRef Secret when the request has no data of it', () => {
    it('as kubelet would pass it: each value\'s bytes as text', async () => {
      const refresh = refreshCredentials({ secretRef: 'provider-creds' });
      const before = request(kubeletTokens(clock, { vault: 10 * MINUTE }));

      const after = await refresh.execute(before);

      expect(after).to.deep.equal({ ...before, nodePublishSecrets: { clientid: 'id-1', clientsecret: 'sécret' } });
      expect(tokens.calls).to.deep.equal([]);
    });

    it('together with new tokens after a restart', async () => {
      const refresh = refreshCredentials({ secretRef: 'provider-creds' });

      const after = await refresh.execute(request(undefined));

      expect(after.nodePublishSecrets).to.deep.equal({ clientid: 'id-1', clientsecret: 'sécret' });
      expect(tokensUsable(after.serviceAccountTokens, ['vault'], clock.now())).to.equal(true);
    });

    it('rejects naming the missing Secret, its volume and pod', async () => {
      const refresh = refreshCredentials({ secretRef: 'deleted-creds' });

      const failure = await refresh.execute(request(kubeletTokens(clock, { vault: 10 * MINUTE }))).then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(failure).to.be.instanceOf(DomainError).and.to.include({
        code: 'InvalidVolumeContext',
        message: 'Secret default/deleted-creds (nodePublishSecretRef of volume "secrets" of pod default/app-0) not found',
      });
    });
  });
});
