import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { expect } from 'chai';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { ConsoleLogger } from '../../src/adapters/console-log/console-logger.js';
import { InProcessSecretProvider } from '../../src/adapters/fake-provider/in-process-provider.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { DRIVER_FLAGS, driverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { chooseMountMode, nodeFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../../src/app/modules/provider.module.js';
import { startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';

const CSI_SANITY_VERSION = 'v5.4.0';
const INSTALL_COMMAND = `go install github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@${CSI_SANITY_VERSION}`;
const RUN_TIMEOUT_MS = 180_000;

/**
 * What csi-sanity checks that applies to this driver. It is a node-only plugin for inline ephemeral
 * volumes: no CONTROLLER_SERVICE capability and no node capability (no stage/unstage, stats or
 * expansion). Every csi-sanity spec that mounts something first creates a volume with the Controller's
 * CreateVolume (the volume context it publishes with is CreateVolume's answer, so
 * --csi.testvolumeparameters, which only feeds CreateVolume, cannot reach NodePublishVolume), and its
 * target paths (`<mountdir>/target`) never have kubelet's shape, which the driver requires. What
 * remains, and must all pass, is Identity plus the Node calls a CO can make without a controller.
 */
const APPLICABLE_SPECS = [
  'Identity Service > GetPluginCapabilities > should return appropriate capabilities',
  'Identity Service > GetPluginInfo > should return appropriate information',
  'Identity Service > Probe > should return appropriate information',
  'Node Service > NodeGetCapabilities > should return appropriate capabilities',
  'Node Service > NodeGetInfo > should return appropriate values',
  'Node Service > NodePublishVolume > should fail when no volume id is provided',
  'Node Service > NodePublishVolume > should fail when no target path is provided',
  'Node Service > NodePublishVolume > should fail when no volume capability is provided',
  'Node Service > NodeUnpublishVolume > should fail when no volume id is provided',
  'Node Service > NodeUnpublishVolume > should fail when no target path is provided',
];

/**
 * Specs skipped by name, because they cannot apply (each needs a Controller service, which this
 * driver does not advertise and kubelet never calls for inline volumes):
 * - `Controller Server`: every Controller and GroupController suite (CreateVolume, snapshots, ...).
 * - `should remove target path`: publishes a volume it first creates with CreateVolume.
 * The other non-applicable specs skip themselves from the advertised capabilities: NodeStage/Unstage,
 * NodeGetVolumeStats, NodeExpandVolume, `should work` / `should be idempotent` (no controller) and
 * the GroupController VolumeGroupSnapshots suite.
 */
const SKIP = 'Controller Server|should remove target path';

interface GinkgoSpecReport {
  readonly LeafNodeType: string;
  readonly LeafNodeText: string;
  readonly ContainerHierarchyTexts: readonly string[] | null;
  readonly State: string;
  readonly Failure?: { readonly Message?: string };
}

/** The csi-sanity binary: $CSI_SANITY_BIN (set by .ci/run), else `csi-sanity` on PATH. */
function findCsiSanity(): string | undefined {
  const fromEnv = process.env['CSI_SANITY_BIN'];
  if (fromEnv) {
    accessSync(fromEnv, constants.X_OK); // set but missing: a broken setup, fail loudly
    return fromEnv;
  }
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, 'csi-sanity'), constants.X_OK);
      return join(dir, 'csi-sanity');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Runs csi-sanity to its end (killed after RUN_TIMEOUT_MS); `started` gets the child for after hooks. */
function runCsiSanity(binary: string, args: readonly string[], started: (child: ChildProcess) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe(`integration: csi-sanity ${CSI_SANITY_VERSION} against the driver's CSI socket`, function () {
  this.timeout(RUN_TIMEOUT_MS + 60_000);
  let binary: string | undefined;
  let sandbox: TmpfsSandbox | undefined;
  let agent: NodeAgent | undefined;
  let sanity: ChildProcess | undefined;
  const driverLog: string[] = [];

  before(async function () {
    binary = findCsiSanity();
    if (binary === undefined) {
      const reason =
        `csi-sanity not found (CSI_SANITY_BIN is unset and it is not on PATH); install it with: ${INSTALL_COMMAND} ` +
        '(.ci/run builds it into a cache and sets CSI_SANITY_BIN)';
      if (process.env['CI'] === 'true') throw new Error(reason);
      console.warn(`      skipping csi-sanity: ${reason}`);
      this.skip();
    }
    sandbox = await TmpfsSandbox.create('sscsi-sanity-');
    const config = driverConfig(
      parseFlags(DRIVER_FLAGS, [
        `--endpoint=unix://${join(sandbox.root, 'csi.sock')}`,
        '--nodeid=sanity-node',
        `--kubelet-root=${sandbox.kubeletRoot}`,
        '--cluster=memory',
      ]),
    );
    const clock = new SystemClock();
    const logger = new ConsoleLogger({ json: false, verbosity: 4, write: (line) => driverLog.push(line), now: () => new Date() });
    const cluster = new InMemoryCluster({ clock });
    agent = await startNodeAgent(
      config,
      { clock, logger, metrics: new MemoryMetrics() },
      {
        cluster: memoryClusterModule(cluster),
        files: nodeFilesModule(await chooseMountMode(true, logger), config.kubeletRoot),
        provider: givenProviderModule(new InProcessSecretProvider()),
      },
      'sanity',
    );
  });

  after(async () => {
    if (sanity !== undefined && sanity.exitCode === null && sanity.signalCode === null) sanity.kill('SIGKILL');
    await agent?.stop();
    await sandbox?.dispose();
  });

  it(`passes all ${APPLICABLE_SPECS.length} specs that apply to a node-only inline-volume driver`, async () => {
    const root = sandbox!.root;
    const report = join(root, 'ginkgo-report.json');
    const { code, output } = await runCsiSanity(binary!, [
      `--csi.endpoint=unix://${agent!.csi.address}`,
      // csi-sanity creates and removes these itself around each spec; they must not exist yet.
      `--csi.mountdir=${join(root, 'csi-mount')}`,
      `--csi.stagingdir=${join(root, 'csi-staging')}`,
      `--ginkgo.skip=${SKIP}`,
      `--ginkgo.json-report=${report}`,
      '--ginkgo.no-color',
    ], (child) => (sanity = child));
    const context = `\ncsi-sanity output:\n${output}\ndriver log:\n${driverLog.join('\n')}`;
    const summary = /^Ran \d+ of \d+ Specs.*\n.*$/m.exec(output)?.[0] ?? '(no summary line)';
    console.log(`      csi-sanity: ${summary.replace(/\n/g, ' ')}`);

    const suites = JSON.parse(await readFile(report, 'utf8')) as { SpecReports: GinkgoSpecReport[] }[];
    const specs = suites.flatMap((suite) => suite.SpecReports).filter((spec) => spec.LeafNodeType === 'It');
    const title = (spec: GinkgoSpecReport): string => [...(spec.ContainerHierarchyTexts ?? []), spec.LeafNodeText].join(' > ');
    const failed = specs.filter((spec) => spec.State !== 'passed' && spec.State !== 'skipped' && spec.State !== 'pending');
    expect(failed.map((spec) => `${title(spec)}: ${spec.Failure?.Message ?? spec.State}`), context).to.deep.equal([]);
    expect(specs.filter((spec) => spec.State === 'passed').map(title), context).to.have.members(APPLICABLE_SPECS);
    expect(code, context).to.equal(0);
  });
});
