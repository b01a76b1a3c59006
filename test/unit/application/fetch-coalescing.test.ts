import { expect } from 'chai';
import { FetchPass, JoinedCall } from '../../../src/application/fetch-coalescing.js';
import { FetchSecrets } from '../../../src/application/fetch-secrets.js';
import { MemoryMetrics } from '../../../src/adapters/memory-metrics/memory-metrics.js';
import type { SecretProvider } from '../../../src/ports/secret-provider.js';
import type { SecretProviderClassSource } from '../../../src/ports/secret-provider-class-source.js';
import { FETCH_SHARING_ANNOTATION, FetchKey } from '../../../src/domain/fetch-key.js';
import type { ProviderMountRequest, ProviderMountResponse } from '../../../src/domain/provider-request.js';
import { parseVolumeRequest, type PublishCommand } from '../../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../../src/domain/volume-context.js';
import { aClass, aPublishCommand, KUBELET_ROOT } from '../../support/builders.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { CLASS_NAME, DriverHarness, type TestPod } from '../../support/driver-harness.js';

const SHARING = { [FETCH_SHARING_ANNOTATION]: 'serviceaccount' };
const ANSWER_V2: ProviderMountResponse = {
  objectVersions: [{ id: 'db-password', version: 'v2' }],
  errorCode: '',
  files: [{ path: 'db-password', mode: 0, contents: new TextEncoder().encode('db-password-v2') }],
};

/** Lets every pending continuation (memfs, cluster watches) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function withServiceAccount(harness: DriverHarness, pod: TestPod, serviceAccount: string): Partial<PublishCommand> {
  return { volumeContext: { ...harness.commandFor(pod).volumeContext, [VolumeContextKey.serviceAccountName]: serviceAccount } };
}

describe('Single-flight provider calls', () => {
  let harness: DriverHarness;
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  it('collapses N concurrent identical fetches into one provider call, and forgets it once answered', async () => {
    harness = new DriverHarness({ startRotationLoop: false });
    harness.addClass();
    const pod = harness.addPod();
    const fetch = harness.container.get(FetchSecrets);
    const request = parseVolumeRequest(harness.commandFor(pod), KUBELET_ROOT);

    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch.execute(request, [])));

    expect(harness.provider.calls).to.equal(1);
    expect(answers.map((a) => a.payload.objectVersions)).to.deep.equal(Array(8).fill([{ id: 'db-password', version: 'v1' }]));
    expect(fetch.callsInFlight).to.equal(0);
    await fetch.execute(request, []);
    expect(harness.provider.calls, 'a later fetch is a new call (nothing cached)').to.equal(2);
  });

  it('does not collapse fetches that differ in current versions or target path', async () => {
    harness = new DriverHarness({ startRotationLoop: false });
    harness.addClass();
    const [a, b] = [harness.addPod({ name: 'app-0' }), harness.addPod({ name: 'app-1' })];
    const fetch = harness.container.get(FetchSecrets);
    const requestA = parseVolumeRequest(harness.commandFor(a!), KUBELET_ROOT);
    const requestB = parseVolumeRequest(harness.commandFor(b!), KUBELET_ROOT);

    await Promise.all([
      fetch.execute(requestA, []),
      fetch.execute(requestA, [{ id: 'db-password', version: 'v1' }]),
      fetch.execute(requestB, []),
    ]);

    expect(harness.provider.calls).to.equal(3);
  });

  it('fails every joined fetch when the one call fails', async () => {
    harness = new DriverHarness({ startRotationLoop: false });
    harness.addClass();
    const fetch = harness.container.get(FetchSecrets);
    const request = parseVolumeRequest(harness.commandFor(harness.addPod()), KUBELET_ROOT);
    harness.fake.fail({ kind: 'provider-error', code: 'Throttled' });

    const results = await Promise.allSettled(Array.from({ length: 3 }, () => fetch.execute(request, [])));

    expect(harness.provider.calls).to.equal(1);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
  });

  it('does not join a call every fetch gave up while its cancellation is under way: an identical fetch then makes its own', async () => {
    const signals: AbortSignal[] = [];
    const provider: SecretProvider = {
      mount: (_name, _request, options) => {
        const signal = options!.signal!;
        signals.push(signal);
        if (signals.length > 1) return Promise.resolve(ANSWER_V2);
        // As over gRPC: the cancelled call ends a moment after it was cancelled.
        return new Promise((_, reject) => signal.addEventListener('abort', () => setTimeout(() => reject(signal.reason), 50)));
      },
    };
    const classes: SecretProviderClassSource = { get: async () => aClass(), onChange: () => () => undefined };
    const fetch = new FetchSecrets(classes, provider, new MemoryMetrics());
    const request = parseVolumeRequest(aPublishCommand(), KUBELET_ROOT);
    const unpublished = new AbortController();
    const first = fetch.execute(request, [], { origin: 'rotation', signal: unpublished.signal }).then(
      () => 'answered',
      () => 'gave up',
    );
    while (signals.length === 0) await settle();

    unpublished.abort(new Error('unpublished'));
    expect(await first).to.equal('gave up');
    const second = await fetch.execute(request, [], { origin: 'rotation', signal: new AbortController().signal });

    expect(second.payload.objectVersions).to.deep.equal(ANSWER_V2.objectVersions);
    expect(signals.map((signal) => signal.aborted)).to.deep.equal([true, false]);
  });

  it('sends each fetch the class and versions it is given, though the same class object and versions send one request object again', async () => {
    const sent: ProviderMountRequest[] = [];
    const provider: SecretProvider = { mount: async (_name, request) => (sent.push(request), ANSWER_V2) };
    let spc = aClass({ parameters: { objects: 'one' } });
    const classes: SecretProviderClassSource = { get: async () => spc, onChange: () => () => undefined };
    const fetch = new FetchSecrets(classes, provider, new MemoryMetrics());
    const request = parseVolumeRequest(aPublishCommand(), KUBELET_ROOT);
    const v1 = [{ id: 'db-password', version: 'v1' }];

    await fetch.execute(request, v1);
    await fetch.execute(request, [{ id: 'db-password', version: 'v1' }]);
    await fetch.execute(request, [{ id: 'db-password', version: 'v2' }]);
    spc = aClass({ parameters: { objects: 'two' } });
    await fetch.execute(request, [{ id: 'db-password', version: 'v2' }]);
    await fetch.execute(parseVolumeRequest(aPublishCommand({ volumeContext: { ...aPublishCommand().volumeContext, extra: 'x' } }), KUBELET_ROOT), [{ id: 'db-password', version: 'v2' }]);

    expect(sent[1], 'equal versions, same class object').to.equal(sent[0]);
    expect(sent.map((r) => r.currentObjectVersion.map(({ version }) => version))).to.deep.equal([['v1'], ['v1'], ['v2'], ['v2'], ['v2']]);
    expect(sent.map((r) => JSON.parse(r.attributes).objects)).to.deep.equal(['one', 'one', 'one', 'two', 'two']);
    expect(JSON.parse(sent[4]!.attributes).extra, 'another volume request').to.equal('x');
  });
});

describe('Sharing one provider call per pass (class annotation fetch-sharing: serviceaccount)', () => {
  let harness: DriverHarness;
  let a: TestPod;
  let b: TestPod;
  const interval = (): number => harness.rotation.intervalMs;

  beforeEach(() => {
    harness = new DriverHarness();
    a = harness.addPod({ name: 'app-0' });
    b = harness.addPod({ name: 'app-1' });
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  const rotatedEvents = (pod: TestPod): number => harness.events('MountRotationComplete').filter((e) => e.involvedObject?.name === pod.name).length;

  it('two pods of the same service account share one call per pass; each gets the files, status and event', async () => {
    harness.addClass({ annotations: SHARING });
    await harness.publish(a);
    await harness.publish(b);
    harness.store.rotate('db-password');

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(3);
    for (const pod of [a, b]) {
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
      expect(rotatedEvents(pod), pod.name).to.equal(1);
    }
    const shared = harness.fake.requests[2]!.request;
    expect([a.target, b.target]).to.include(shared.targetPath);
    expect(shared.currentObjectVersion).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
  });

  it('never reuses an answer in a later pass', async () => {
    harness.addClass({ annotations: SHARING });
    await harness.publish(a);
    await harness.publish(b);

    await harness.advance(interval());
    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(4);
  });

  it('pods of different service accounts do not share', async () => {
    harness.addClass({ annotations: SHARING });
    await harness.publish(a);
    await harness.publish(b, CLASS_NAME, withServiceAccount(harness, b, 'other'));

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(4);
  });

  it('pods with different nodePublishSecretRef data do not share; pods with the same data do', async () => {
    harness.addClass({ annotations: SHARING });
    const c = harness.addPod({ name: 'app-2' });
    await harness.publish(a, CLASS_NAME, { secrets: { password: 'node-publish-one' } });
    await harness.publish(b, CLASS_NAME, { secrets: { password: 'node-publish-two' } });
    await harness.publish(c, CLASS_NAME, { secrets: { password: 'node-publish-one' } });

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(3 + 2);
    const pass = harness.fake.requests.slice(3).map((r) => r.request.secrets);
    expect(pass.sort()).to.deep.equal(['{"password":"node-publish-one"}', '{"password":"node-publish-two"}']);
  });

  it('without the annotation each binding makes its own call', async () => {
    harness.addClass();
    await harness.publish(a);
    await harness.publish(b);

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(4);
  });

  it('a failing shared call fails each sharing binding: each keeps its files and gets its Warning event', async () => {
    harness.addClass({ annotations: SHARING });
    await harness.publish(a);
    await harness.publish(b);
    const before = [await harness.snapshot(a.target), await harness.snapshot(b.target)];
    harness.store.rotate('db-password');
    harness.fake.fail({ kind: 'provider-error', code: 'Throttled' });

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(3);
    expect([await harness.snapshot(a.target), await harness.snapshot(b.target)]).to.deep.equal(before);
    for (const pod of [a, b]) {
      const failed = harness.events('MountRotationFailed').filter((e) => e.involvedObject?.name === pod.name);
      expect(failed, pod.name).to.have.length(1);
      expect(failed[0]?.message).to.contain('Throttled');
    }
    // A provider's own code is named in the event; the metric counts it as Other (a bounded label).
    expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: 'Other' })).to.equal(2);
  });

  it('checks the group together when its earliest member is due, so pods mounted at different times still share', async () => {
    harness.addClass({ annotations: SHARING });
    await harness.publish(a);
    await harness.advance(3_000);
    await harness.publish(b);
    harness.store.rotate('db-password');

    await harness.advance(interval() - 3_000);

    expect(harness.provider.calls, 'a is due; b is checked with it').to.equal(3);
    expect(await harness.mountedText(b.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
    await harness.advance(interval());
    expect(harness.provider.calls, 'the next pass checks both with one call again').to.equal(4);
  });

  it('does not share the answer of a provider that writes the files itself; each binding asks for its own target', async () => {
    harness.addClass({ annotations: SHARING });
    harness.provider.answerWith((answer: ProviderMountResponse) => ({ ...answer, files: [] }));
    await harness.publish(a);
    await harness.publish(b);

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(4);
    const targets = harness.fake.requests.slice(2).map((r) => r.request.targetPath);
    expect(targets.sort()).to.deep.equal([a.target, b.target].sort());
    await harness.advance(interval());
    expect(harness.provider.calls, 'later passes do not try to share either').to.equal(6);
    expect(harness.logger.lines.filter((line) => line.startsWith('warn provider wrote the files itself'))).to.have.length(1);
  });

  it('warns once about an annotation value it does not understand, and does not share', async () => {
    harness.addClass({ annotations: { [FETCH_SHARING_ANNOTATION]: 'everyone' } });
    await harness.publish(a);
    await harness.publish(b);

    await harness.advance(interval());

    await harness.advance(interval());

    expect(harness.provider.calls).to.equal(6);
    const warnings = harness.logger.lines.filter((line) => line.startsWith('warn ignoring class fetch-sharing annotation'));
    expect(warnings, 'once, not on every pass').to.have.length(1);
    expect(warnings[0]).to.contain('everyone');
  });
});

describe('kubelet republishes of a class that opts in to fetch sharing', () => {
  it('never share: each due republish asks the provider for its own target', async () => {
    const harness = new DriverHarness({ startRotationLoop: false });
    harness.addClass({ annotations: SHARING });
    const [a, b] = [harness.addPod({ name: 'app-0' }), harness.addPod({ name: 'app-1' })];
    await harness.publish(a);
    await harness.publish(b);
    harness.clock.advance(harness.rotation.intervalMs);

    await harness.publish(a);
    await harness.publish(b);

    expect(harness.provider.calls).to.equal(4);
    expect(harness.fake.requests.slice(2).map((r) => r.request.targetPath)).to.deep.equal([a.target, b.target]);
    await harness.stop();
  });
});

describe('JoinedCall', () => {
  /** A call that answers when the test says, and tells whether it was cancelled. */
  function pendingCall(): { call: JoinedCall<string>; answer: (value: string) => void; cancelled: () => boolean } {
    let answer!: (value: string) => void;
    let signal!: AbortSignal;
    const call = new JoinedCall<string>((given) => {
      signal = given;
      return new Promise((resolve, reject) => {
        answer = resolve;
        given.addEventListener('abort', () => reject(given.reason));
      });
    });
    return { call, answer: (value) => answer(value), cancelled: () => signal.aborted };
  }

  it('gives every waiter the one answer', async () => {
    const { call, answer } = pendingCall();
    const waiters = [call.join(), call.join(new AbortController().signal)];
    answer('v1');
    expect(await Promise.all(waiters)).to.deep.equal(['v1', 'v1']);
  });

  it('lets a waiter give up at once while the call goes on for the others', async () => {
    const { call, answer, cancelled } = pendingCall();
    const leaving = new AbortController();
    const left = call.join(leaving.signal);
    const staying = call.join(new AbortController().signal);

    leaving.abort(new Error('unpublished'));

    await left.then(
      () => expect.fail('expected a rejection'),
      (error: Error) => expect(error.message).to.equal('unpublished'),
    );
    expect(cancelled(), 'another waiter still waits').to.equal(false);
    answer('v2');
    expect(await staying).to.equal('v2');
  });

  it('cancels the call once every waiter gave up, and never while one without a signal waits', async () => {
    const { call, cancelled } = pendingCall();
    const controllers = [new AbortController(), new AbortController()];
    const waiters = controllers.map((controller) => call.join(controller.signal).catch(() => 'gave up'));
    for (const controller of controllers) controller.abort(new Error('gone'));
    expect(await Promise.all(waiters)).to.deep.equal(['gave up', 'gave up']);
    expect(cancelled()).to.equal(true);

    const patient = pendingCall();
    void patient.call.join();
    const impatient = new AbortController();
    const gone = patient.call.join(impatient.signal).catch(() => 'gave up');
    impatient.abort(new Error('gone'));
    expect(await gone).to.equal('gave up');
    expect(patient.cancelled()).to.equal(false);
  });
});

describe('FetchPass', () => {
  const answer: ProviderMountResponse = { objectVersions: [{ id: 'a', version: 'v1' }], errorCode: '', files: [] };
  const key = (): FetchKey => {
    return FetchKey.sharing(aClass(), parseVolumeRequest(aPublishCommand(), KUBELET_ROOT));
  };

  it('shares nothing once closed', async () => {
    const pass = new FetchPass();
    let calls = 0;
    const call = async (): Promise<ProviderMountResponse> => {
      calls += 1;
      return { ...answer, files: [{ path: 'a', mode: 0o644, contents: new Uint8Array([1]) }] };
    };
    await pass.share(key(), call, () => undefined);
    expect((await pass.share(key(), call, () => undefined)).shared).to.equal(true);
    expect(pass.keys).to.equal(1);
    pass.close();
    expect((await pass.share(key(), call, () => undefined)).shared).to.equal(false);
    expect(calls).to.equal(2);
    expect(pass.keys).to.equal(0);
  });

  it('makes a new call for a later binding once every binding that waited on the call gave it up', async () => {
    const pass = new FetchPass();
    const signals: AbortSignal[] = [];
    const call = (signal: AbortSignal | undefined): Promise<ProviderMountResponse> => {
      signals.push(signal!);
      if (signals.length > 1) return Promise.resolve({ ...answer, files: [{ path: 'a', mode: 0o644, contents: new Uint8Array([2]) }] });
      return new Promise((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason)));
    };
    const unpublished = new AbortController();
    const first = pass.share(key(), call, () => undefined, unpublished.signal).catch((error: Error) => error.message);
    unpublished.abort(new Error('the first binding was unpublished'));
    expect(await first).to.equal('the first binding was unpublished');
    expect(signals[0]!.aborted, 'the provider call was cancelled').to.equal(true);

    const later = await pass.share(key(), call, () => undefined, new AbortController().signal);

    expect(later.shared).to.equal(false);
    expect(later.response.files.map((file) => [...file.contents])).to.deep.equal([[2]]);
    expect(signals).to.have.length(2);
  });
});

describe('Provider rate limit on rotation (--provider-qps, --provider-burst)', () => {
  let harness: DriverHarness;
  let callTimes: number[];

  beforeEach(async () => {
    harness = new DriverHarness({ rotation: { providerQps: 2, providerBurst: 1 } });
    harness.addClass();
    for (let i = 0; i < 10; i++) await harness.publish(harness.addPod({ name: `app-${i}` }));
    callTimes = [];
    harness.provider.answerWith((answer) => {
      callTimes.push(harness.clock.now());
      return answer;
    });
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  /** Moves the clock in small steps, letting each pass continue, until `ms` have passed. */
  async function run(ms: number, step = 100): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      await settle();
      harness.clock.advance(step);
    }
    await settle();
  }

  it('spreads the calls of 10 due bindings at qps 2, burst 1 over ~5 s', async () => {
    expect(harness.provider.calls, 'the publishes were not limited').to.equal(10);
    harness.clock.advance(harness.rotation.intervalMs);
    const passStart = harness.clock.now();

    await run(6_000);

    const offsets = callTimes.map((t) => t - passStart);
    expect(offsets).to.have.length(10);
    expect(offsets[0]).to.equal(0);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]! - offsets[i - 1]!, `gap before call ${i}`).to.be.at.least(500);
    expect(offsets[9]).to.be.within(4_500, 5_000);
  });

  it('does not make a kubelet publish wait behind the rotation queue', async () => {
    harness.clock.advance(harness.rotation.intervalMs);
    await run(1_000);
    const before = harness.provider.calls;
    const late = harness.addPod({ name: 'late' });

    await harness.publish(late);

    expect(harness.provider.calls).to.equal(before + 1);
    expect(await harness.mountedText(late.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    await run(6_000);
    expect(harness.provider.calls, 'the rotation pass still finishes').to.equal(21);
  });
});
