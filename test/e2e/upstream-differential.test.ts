import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import { startFakeProvider, type FakeProviderControls } from '../../src/adapters/fake-provider/fake-provider-server.js';
import type { PodStatusResource, SecretResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { eventually } from '../contract/eventually.js';
import { BAD_ANSWERS, BAD_REQUESTS, ESCAPING_PROVIDER_NAMES, RECV_LIMIT, wireRequest } from '../integration/publish-bad-input-corpus.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { differences, listedDifferences, Observations, unlistedOrStale, DOC, RUNTIME_DIFFERENCES } from '../support/listed-differences.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { requireUpstreamDriver, type UpstreamDriverPeer } from '../support/upstream-driver.js';
import { DriverLane, type CallAnswer } from './drop-in/driver-lane.js';
import { metricFamilies, recordTree } from './drop-in/observations.js';
import { startThisDriver, startUpstreamDriver } from './node-drivers.js';
import { CliProcess } from './processes.js';

/**
 * The drop-in promise, checked against upstream itself: the upstream driver v1.6.0 and this driver run side by
 * side on one real control plane, each as its own node, with the same fake provider, and get the same
 * kubelet-shaped calls (publishes, republishes, a rotation, a class edit, an unpublish, the bad-input corpus).
 * Everything each one leaves (mounted trees, pod statuses, synced Secrets, events, gRPC codes, CSI identity,
 * metric families, the flag set) is recorded as leaves and compared; every leaf that differs must be a row of
 * docs/operations.md "What changes" with both values, and every row there must still differ.
 */
const ROTATION_POLL_INTERVAL = '2s';
const CLASS = 'app';
const SECRET = 'db';
/** Long enough for both drivers to act on a step: upstream's owner-reference patcher runs every 5 s. */
const SETTLE_MS = 20_000;

function classParameters(objects: readonly string[]): Record<string, string> {
  return { objects: objects.join('') };
}

const OBJECTS = ['- name: db-password\n', '- {name: tls-cert, path: certs/tls.crt}\n', '- {name: app-config, path: conf/app.yaml, mode: 256}\n'];

describe('e2e: this driver side by side with the upstream driver v1.6.0 (differential)', function () {
  this.timeout(300_000);
  let peer: UpstreamDriverPeer;
  let plane: ControlPlane | undefined;
  let providers: TmpfsSandbox | undefined;
  let provider: FakeProviderControls | undefined;
  let upstream: DriverLane;
  let ours: DriverLane;
  const observed = new Map<DriverLane, Observations>();
  const lanes = (): DriverLane[] => [upstream, ours];
  const record = (lane: DriverLane): Observations => observed.get(lane)!;

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    peer = requireUpstreamDriver(this);
    plane = await startControlPlane(binaries);
    providers = await TmpfsSandbox.create('sscsi-dropin-providers-');
    provider = await startFakeProvider({ socketPath: join(providers.root, 'fake.sock') });
    upstream = new DriverLane('upstream', 'node-upstream', plane, providers.root);
    ours = new DriverLane('ours', 'node-ours', plane, providers.root);
    const args = [`--max-call-recv-msg-size=${RECV_LIMIT}`];
    await upstream.start((setup) => startUpstreamDriver(peer, setup), ROTATION_POLL_INTERVAL, args);
    await ours.start(startThisDriver, ROTATION_POLL_INTERVAL, args);
    for (const lane of lanes()) {
      observed.set(lane, new Observations(lane.normalise));
      await lane.createClass(CLASS, {
        provider: 'fake',
        parameters: classParameters(OBJECTS),
        secretObjects: [
          {
            secretName: SECRET,
            type: 'Opaque',
            labels: { team: 'payments' },
            annotations: { 'example.com/owner': 'team-a' },
            data: [{ objectName: 'db-password', key: 'password' }],
          },
        ],
      } as never);
      const owner = await lane.createOwner('app');
      await lane.createPod('app-0', CLASS);
      await lane.createPod('app-1', CLASS, owner);
    }
  });

  after(async () => {
    for (const lane of [upstream, ours]) await lane?.dispose();
    await provider?.stop();
    await providers?.dispose();
    await plane?.stop();
  });

  /** Runs `step` on both lanes, upstream first, adding the lane's log to any failure. */
  async function onBoth(step: (lane: DriverLane) => Promise<void>): Promise<void> {
    for (const lane of lanes()) {
      try {
        await step(lane);
      } catch (error) {
        throw new Error(`${lane.name}: ${error instanceof Error ? error.message : String(error)}${lane.logs()}`);
      }
    }
  }

  /** Waits (bounded) until `condition` holds for the lane; false when it never did (the observations then show what is there). */
  async function settled(condition: () => Promise<boolean>, timeoutMs = SETTLE_MS): Promise<boolean> {
    return eventually(async () => expect(await condition()).to.equal(true), timeoutMs, 100).then(
      () => true,
      () => false,
    );
  }

  /** The tree once a rotation's grace period is over: one versioned directory. */
  async function recordSettledTree(lane: DriverLane, aspect: string, podName: string): Promise<void> {
    const target = lane.target(podName);
    await settled(async () => (await readdir(target)).filter((name) => /^\.\.\d/.test(name)).length === 1, 10_000);
    await recordTree(record(lane), aspect, target);
  }

  function recordPodStatus(lane: DriverLane, aspect: string, object: PodStatusResource | undefined): void {
    record(lane).recordJson(aspect, object === undefined ? 'absent' : withoutVolatileMetadata(object));
  }

  function recordSecret(lane: DriverLane, aspect: string, object: SecretResource | undefined): void {
    record(lane).recordJson(aspect, object === undefined ? 'absent' : withoutVolatileMetadata(object));
  }

  it('publishes two pods (one owned by a ReplicaSet): mounted trees, pod statuses, the synced Secret', async () => {
    await onBoth(async (lane) => {
      for (const name of ['app-0', 'app-1']) await lane.kubelet!.startPod(lane.pods.get(name)!);
      // Upstream syncs the Secret from its controller and adds each pod's owners (or its status) every 5 s.
      await settled(async () => ((await lane.readSecret(SECRET))?.metadata.ownerReferences?.length ?? 0) >= 2);
      await recordSettledTree(lane, 'publish tree', 'app-0');
      for (const name of ['app-0', 'app-1']) recordPodStatus(lane, `publish pod status ${name}`, await lane.readPodStatus(name));
      recordSecret(lane, 'publish secret', await lane.readSecret(SECRET));
    });
    for (const lane of lanes()) expect(existsSync(join(lane.target('app-0'), 'db-password')), lane.name).to.equal(true);
  });

  it('republishes unchanged contents', async () => {
    await onBoth(async (lane) => {
      await lane.kubelet!.republishAll();
      await recordSettledTree(lane, 'republish tree', 'app-0');
      recordPodStatus(lane, 'republish pod status app-0', await lane.readPodStatus('app-0'));
    });
  });

  it('rotates a changed secret on kubelet republishes: files, pod statuses, the synced Secret', async () => {
    const version = provider!.rotate('db-password').version;
    await onBoth(async (lane) => {
      const rotated = await settled(async () => {
        await lane.kubelet!.republishAll();
        const status = await lane.readPodStatus('app-0');
        const secret = await lane.readSecret(SECRET);
        return (
          status?.status?.objects?.some((object) => object.id === 'db-password' && object.version === version) === true &&
          Buffer.from(secret?.data?.['password'] ?? '', 'base64').toString() === `db-password-${version}` &&
          // Upstream's Secret update drops the owner references; its patcher puts them back within 5 s.
          (secret?.metadata.ownerReferences?.length ?? 0) >= 2
        );
      });
      expect(rotated, `${lane.name} rotated db-password to ${version}`).to.equal(true);
      await recordSettledTree(lane, 'rotation tree', 'app-0');
      recordPodStatus(lane, 'rotation pod status app-0', await lane.readPodStatus('app-0'));
      recordSecret(lane, 'rotation secret', await lane.readSecret(SECRET));
    });
  });

  it('follows a class edit (one more object) on kubelet republishes', async () => {
    await onBoth(async (lane) => {
      await lane.patchClassParameters(CLASS, classParameters([...OBJECTS, '- name: extra\n']));
      const followed = await settled(async () => {
        await lane.kubelet!.republishAll();
        return existsSync(join(lane.target('app-0'), 'extra'));
      });
      expect(followed, `${lane.name} mounted the new object`).to.equal(true);
      await recordSettledTree(lane, 'class edit tree', 'app-0');
      recordPodStatus(lane, 'class edit pod status app-0', await lane.readPodStatus('app-0'));
    });
  });

  it('unpublishes a volume: the target and the pod status', async () => {
    await onBoth(async (lane) => {
      const command = await lane.publishCommand('app-0');
      await lane.client!.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
      await recordTree(record(lane), 'unpublish tree', command.targetPath);
      record(lane).record('unpublish pod status app-0', (await lane.readPodStatus('app-0')) === undefined ? 'deleted' : 'kept');
    });
  });

  it('answers the bad-input corpus: gRPC codes and what each call leaves at the target', async () => {
    await onBoth(async (lane) => {
      for (const [index, name] of ESCAPING_PROVIDER_NAMES.entries()) {
        await lane.createClass(`escaping-${index}`, { provider: name, parameters: classParameters(['- name: db-password\n']) } as never);
      }
    });
    let pods = 0;
    const badPod = async (lane: DriverLane, className = CLASS): Promise<string> => {
      const name = `bad-${pods}`;
      await lane.createPod(name, className);
      return name;
    };
    const leaves = async (lane: DriverLane, aspect: string, target: string): Promise<void> => {
      await recordTree(record(lane), aspect, target);
      await rm(join(target, '..'), { recursive: true, force: true }).catch(() => undefined);
    };
    for (const bad of BAD_REQUESTS) {
      pods++;
      await onBoth(async (lane) => {
        const command = await lane.publishCommand(await badPod(lane));
        recordAnswer(lane, `bad input ${bad.name}`, await lane.rawPublish(bad.change(command)));
        await leaves(lane, `bad input ${bad.name}`, command.targetPath);
      });
    }
    for (const [field, change] of UNPUBLISH_WITHOUT) {
      pods++;
      await onBoth(async (lane) => {
        const command = await lane.publishCommand(await badPod(lane));
        recordAnswer(lane, `bad unpublish without ${field}`, await lane.rawUnpublish(change({ volumeId: command.volumeId, targetPath: command.targetPath })));
      });
    }
    for (const [index, name] of ESCAPING_PROVIDER_NAMES.entries()) {
      pods++;
      await onBoth(async (lane) => {
        const command = await lane.publishCommand(await badPod(lane, `escaping-${index}`));
        recordAnswer(lane, `bad input provider "${name}"`, await lane.rawPublish(wireRequest(command)));
        await leaves(lane, `bad input provider "${name}"`, command.targetPath);
      });
    }
    for (const bad of BAD_ANSWERS) {
      pods++;
      await onBoth(async (lane) => {
        const command = await lane.publishCommand(await badPod(lane));
        // Only this call's answer misbehaves: the other mounts' rotation checks go on meanwhile.
        provider!.setAnswer((answer, request) => (request.targetPath === command.targetPath ? bad.transform(answer, request) : answer));
        try {
          recordAnswer(lane, `bad answer ${bad.name}`, await lane.rawPublish(wireRequest(command)));
        } finally {
          provider!.setAnswer(undefined);
        }
        await leaves(lane, `bad answer ${bad.name}`, command.targetPath);
      });
    }
  });

  /**
   * The status code, and the message where upstream's is meaningful: where it answers with an explicit status
   * (its other failures are UNKNOWN, carrying whatever error text came up).
   */
  function recordAnswer(lane: DriverLane, aspect: string, answer: CallAnswer): void {
    record(lane).record(`${aspect}: code`, answer.code);
    if (lane === ours && record(upstream).leaves.get(`${aspect}: code`) === answer.code && answer.code !== 'OK' && answer.code !== 'UNKNOWN') {
      record(upstream).record(`${aspect}: message`, upstreamMessages.get(aspect)!);
      record(lane).record(`${aspect}: message`, answer.message);
    }
    if (lane === upstream) upstreamMessages.set(aspect, answer.message);
  }
  const upstreamMessages = new Map<string, string>();

  it('answers the CSI identity, capability and info calls', async () => {
    const call = <T>(invoke: (callback: (error: ServiceError | null, response?: T) => void) => void): Promise<unknown> =>
      new Promise((resolve) => invoke((error, response) => resolve(error ? { code: error.code } : response)));
    await onBoth(async (lane) => {
      const info = (await call((callback) => lane.identity!.getPluginInfo({}, callback))) as { name?: string; vendorVersion?: string };
      record(lane).record('csi GetPluginInfo name', String(info.name));
      record(lane).recordJson('csi GetPluginCapabilities', await call((callback) => lane.identity!.getPluginCapabilities({}, callback)));
      record(lane).recordJson('csi Probe', await call((callback) => lane.identity!.probe({}, callback)));
      record(lane).recordJson('csi NodeGetInfo', await call((callback) => lane.node!.nodeGetInfo({}, callback)));
      record(lane).recordJson('csi NodeGetCapabilities', await call((callback) => lane.node!.nodeGetCapabilities({}, callback)));
      record(lane).recordJson('csi ControllerGetCapabilities', await call((callback) => lane.controller!.controllerGetCapabilities({}, callback)));
    });
  });

  it('records the events of every step and the metric families /metrics serves', async () => {
    await onBoth(async (lane) => {
      for (const event of await lane.events()) {
        const source = (event as { source?: { component?: string } }).source?.component ?? '';
        record(lane).record(`events ${event.reason} ${event.type}`, `on ${event.involvedObject.kind}, source ${source || '(none)'}`);
      }
      const families = metricFamilies(await lane.scrapeMetrics());
      for (const [name, family] of families) {
        if (family.samples === 0) continue;
        const group = RUNTIME_GROUPS.find((prefix) => name.startsWith(prefix));
        if (group !== undefined) record(lane).record(`metrics ${group}*`, 'served');
        else record(lane).record(`metrics ${name}`, `${family.type} {${family.labels.join(',')}}${family.buckets.length ? ` le=${family.buckets.join(',')}` : ''}`);
      }
    });
  });

  it('registers the same flags (--help)', async () => {
    const upstreamHelp = CliProcess.startBinary(peer.binary, ['--help']);
    await upstreamHelp.waitForExit(20_000);
    const ourHelp = CliProcess.start(['driver', '--help']);
    await ourHelp.waitForExit(20_000);
    // Go's flag package answers -help and -h without registering them.
    record(upstream).record('flag --help', 'registered');
    for (const [name, defaultValue] of helpFlags(upstreamHelp.stderr + upstreamHelp.stdout, /^\s+-([\w-]+)/)) record(upstream).record(`flag --${name}`, defaultValue);
    for (const [name, defaultValue] of helpFlags(ourHelp.stdout, /^\s+--([\w-]+)/)) record(ours).record(`flag --${name}`, defaultValue);
    expect(record(upstream).leaves.has('flag --nodeid')).to.equal(true);
    expect(record(ours).leaves.has('flag --nodeid')).to.equal(true);
  });

  it('finds the CRDs of deploy/crds keep every status field it writes (no warning about pruned fields)', () => {
    expect(ours.driver!.process.stderr).to.include('driver started');
    expect(ours.driver!.process.stderr).not.to.include('drops status fields');
  });

  it(`differs from upstream only where ${DOC} "${RUNTIME_DIFFERENCES.table}" says so, with the values it gives`, () => {
    const observedDifferences = differences(record(upstream), record(ours));
    const problems = unlistedOrStale(observedDifferences, listedDifferences(RUNTIME_DIFFERENCES));
    expect(problems, `${problems.length} problems:\n${problems.join('\n')}`).to.deep.equal([]);
  });
});

/** NodeUnpublishVolume requests kubelet never sends, each missing one field. */
const UNPUBLISH_WITHOUT: readonly [string, (request: { volumeId: string; targetPath: string }) => { volumeId: string; targetPath: string }][] = [
  ['volume_id', (request) => ({ ...request, volumeId: '' })],
  ['target_path', (request) => ({ ...request, targetPath: '' })],
];

/** Metric families of the process and its libraries, compared as groups (present or not), not family by family. */
const RUNTIME_GROUPS = ['go_', 'nodejs_', 'controller_runtime_', 'workqueue_', 'rest_client_', 'certwatcher_', 'leader_election_'];

/**
 * An object without what the API server alone decides (uid, resourceVersion, timestamps, managed fields but their
 * managers), its owner references sorted (their order means nothing, and the drivers add them in no fixed order).
 */
function withoutVolatileMetadata(object: PodStatusResource | SecretResource): unknown {
  const { uid: _uid, resourceVersion: _resourceVersion, creationTimestamp: _created, generation: _generation, managedFields, ownerReferences, ...metadata } =
    object.metadata as unknown as Record<string, unknown> & { managedFields?: { manager?: string }[]; ownerReferences?: { kind: string; name: string }[] };
  const owners = [...(ownerReferences ?? [])].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  return { ...object, metadata: { ...metadata, ...(ownerReferences ? { ownerReferences: owners } : {}), managers: (managedFields ?? []).map((field) => field.manager ?? '') } };
}

/**
 * Flag name -> `registered`, with its default when `--help` shows one that means something: quotes dropped,
 * zero values (`false`, `0`, `""`: Go shows none for them) left out, durations in seconds (`2m0s` and `120s` mean
 * the same).
 */
function helpFlags(help: string, flagLine: RegExp): Map<string, string> {
  const flags = new Map<string, string>();
  let current: string | undefined;
  for (const line of help.split('\n')) {
    const flag = flagLine.exec(line);
    if (flag) {
      current = flag[1]!;
      flags.set(current, 'registered');
      continue;
    }
    const shown = /\(default (.*?)\)(?: \(env [^)]*\))?\s*$/.exec(line);
    const value = shown ? meaningfulDefault(shown[1]!) : '';
    if (current !== undefined && value !== '') flags.set(current, `registered, default ${value}`);
  }
  return flags;
}

function meaningfulDefault(shown: string): string {
  const value = shown.replace(/^"(.*)"$/, '$1');
  // Go shows no default for a zero value.
  if (value === 'false' || value === '0') return '';
  const duration = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (duration && value !== '' && /[hms]$/.test(value)) {
    return `${Number(duration[1] ?? 0) * 3600 + Number(duration[2] ?? 0) * 60 + Number(duration[3] ?? 0)}s`;
  }
  return value;
}
