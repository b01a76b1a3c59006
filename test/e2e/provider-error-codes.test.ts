import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import { CsiNodeClient, type CsiCallError } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import { SCOPE_LABELS } from '../../src/adapters/prometheus/prometheus-metrics.js';
import { MessageCap, truncationMarker } from '../../src/domain/bounded-text.js';
import { eventually } from '../contract/eventually.js';
import { aClassResource, aPodResource } from '../support/cluster-builders.js';
import { csiCallErrorOf } from '../support/driver-assertions.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { setFailureThroughControl } from './fake-provider-control.js';
import { CliProcess } from './processes.js';

/** The exporter's scope labels, as every series of the driver's metrics ends. */
const SCOPE = Object.entries(SCOPE_LABELS).map(([name, value]) => `${name}="${value}"`).join(',');

const NODE = 'node-1';
const CLASS = 'app-secrets';
const POD: FakePod = {
  namespace: 'default',
  name: 'app-0',
  uid: '3c1f1f0a-0d7e-4a57-9d0e-6b7a51d20001',
  serviceAccountName: 'app',
  // The volume of aPodResource.
  volumes: [{ name: 'secrets', volumeAttributes: { secretProviderClass: CLASS } }],
};
const POD_STATUS = `${POD.name}-${POD.namespace}-${CLASS}`;
/** The rotation interval of the driver process: a failing check is retried with backoff from 1 s. */
const ROTATION_INTERVAL = '1s';
/** Every wait here is for a rotation check or a state-file write, both within a few intervals; this allows for a loaded machine. */
const DEADLINE_MS = 30_000;

/** The class and the pod as manifests of the in-memory cluster. */
const MANIFESTS = [aClassResource({ name: CLASS }), aPodResource({ name: POD.name, nodeName: NODE })].map((object) => stringify(object)).join('---\n');

interface KubeObject {
  kind: string;
  metadata: { name: string };
  [field: string]: unknown;
}

/** A sample line of the Prometheus text format, without the process and Node.js runtime metrics. */
function driverSeries(exposition: string): string[] {
  return exposition.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !/^(process|nodejs)_/.test(line));
}

/**
 * The driver process (`--cluster memory`) with the fake provider process answering Mount with error codes of
 * any length, as a hostile or broken provider may: what reaches /metrics, kubelet, the events, the pod status
 * and the log stays bounded.
 */
describe('e2e: provider error codes of any length', function () {
  this.timeout(120_000);
  let sandbox: TmpfsSandbox;
  let provider: CliProcess | undefined;
  let driver: CliProcess | undefined;
  let client: CsiNodeClient | undefined;
  let kubelet: FakeKubelet;
  let controlUrl: string;
  let metricsPort: number;
  let stateFile: string;

  function logs(): string {
    return `\ndriver stderr (last 4 KiB):\n${driver?.stderr.slice(-4096) ?? ''}`;
  }

  async function scrape(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).to.equal(200);
    return response.text();
  }

  async function stateObject(kind: string, match: (object: KubeObject) => boolean): Promise<KubeObject | undefined> {
    if (!existsSync(stateFile)) return undefined;
    const objects = parseAllDocuments(await readFile(stateFile, 'utf8')).map((document) => document.toJS() as KubeObject | null);
    return objects.find((object): object is KubeObject => object !== null && object.kind === kind && match(object));
  }

  const publishFailure = (): Promise<CsiCallError> => csiCallErrorOf(kubelet.startPod(POD));

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-codes-');
    const manifests = join(sandbox.root, 'manifests');
    const providers = join(sandbox.root, 'providers');
    const csiSocket = join(sandbox.root, 'csi.sock');
    stateFile = join(sandbox.root, 'state.yaml');
    await mkdir(manifests);
    await writeFile(join(manifests, 'objects.yaml'), MANIFESTS);
    provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${join(providers, 'fake.sock')}`, '--control-port', '0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    driver = CliProcess.start([
      'driver',
      '--cluster', 'memory',
      '--manifests', manifests,
      '--state-file', stateFile,
      '--endpoint', `unix://${csiSocket}`,
      '--nodeid', NODE,
      '--provider-volume', providers,
      '--additional-provider-volume-paths=',
      '--kubelet-root', sandbox.kubeletRoot,
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      '--rotation-poll-interval', ROTATION_INTERVAL,
      '--rotation-jitter=0',
      // The test makes kubelet's calls itself.
      '--builtin-kubelet=false',
    ]);
    metricsPort = Number((await driver.waitForStderr(/server=metrics address=127\.0\.0\.1:(\d+)/, 20_000))[1]);
    await driver.waitForPath(csiSocket, 20_000);
    client = new CsiNodeClient(csiSocket);
    kubelet = new FakeKubelet(client, sandbox.kubeletRoot);
  });

  after(async () => {
    await kubelet?.deleteAll().catch(() => undefined);
    client?.close();
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
  });

  it('counts 30 distinct 5 KB codes in one error_type, Other: a bounded number of series and bytes in /metrics', async () => {
    const before = await scrape();
    for (let i = 0; i < 30; i++) {
      await setFailureThroughControl(controlUrl, { code: `code-${i}-${'C'.repeat(5120)}`, times: 1 });
      const error = await publishFailure();
      expect(error.code).to.equal('FAILED_PRECONDITION');
      expect(error.details).to.contain(`code-${i}-CCC`);
    }
    const after = await scrape();

    const added = driverSeries(after).filter((line) => !driverSeries(before).some((old) => old.split(' ')[0] === line.split(' ')[0]));
    expect(added.sort()).to.deep.equal([
      `node_publish_error_total{provider="fake",error_type="Other",os_type="linux",${SCOPE}} 30`,
      `provider_requests_total{provider="fake",result="Other",os_type="linux",${SCOPE}} 30`,
    ]);
    // The whole exposition, runtime metrics included, grows by a few hundred bytes, not 30 x 5 KB per metric.
    expect(Buffer.byteLength(after) - Buffer.byteLength(before)).to.be.below(16 * 1024);
    expect(after).not.to.contain('CCCC');
  });

  it('answers kubelet with at most 2 KiB for a 1 MB code, ending with the marker', async () => {
    const code = 'E'.repeat(1_000_000);
    await setFailureThroughControl(controlUrl, { code, times: 1 });
    const error = await publishFailure();

    expect(error.code).to.equal('FAILED_PRECONDITION');
    expect(Buffer.byteLength(error.details)).to.be.at.most(MessageCap.kubelet);
    expect(error.details).to.match(/^provider "fake" failed to mount: E+… \(truncated, \d+ bytes\)$/);
  });

  it('keeps the MountRotationFailed event and lastRotationError of a 1 MB code within 1 KiB, with the marker', async () => {
    await kubelet.startPod(POD);
    const reason = `provider "fake" failed to mount: ${'E'.repeat(1_000_000)}`;
    await setFailureThroughControl(controlUrl, { code: 'E'.repeat(1_000_000) });
    try {
      const status = await eventually(async () => {
        const found = await stateObject('SecretProviderClassPodStatus', (object) => object.metadata.name === POD_STATUS);
        const error = (found?.['status'] as { lastRotationError?: string } | undefined)?.lastRotationError;
        expect(error, `lastRotationError${logs()}`).to.be.a('string');
        return error!;
      }, DEADLINE_MS, 100);
      expect(Buffer.byteLength(status)).to.be.at.most(MessageCap.podStatus);
      expect(status.endsWith(truncationMarker(Buffer.byteLength(reason)))).to.equal(true);

      const event = await eventually(async () => {
        const found = await stateObject('Event', (object) => object['reason'] === 'MountRotationFailed');
        expect(found, `MountRotationFailed event${logs()}`).not.to.equal(undefined);
        return found!;
      }, DEADLINE_MS, 100);
      const message = event['message'] as string;
      expect(Buffer.byteLength(message)).to.be.at.most(MessageCap.event);
      expect(message).to.match(/^failed to rotate mounted contents: provider "fake" failed to mount: E+… \(truncated, \d+ bytes\)$/);
      expect(Buffer.byteLength(await readFile(stateFile))).to.be.below(64 * 1024);
    } finally {
      await setFailureThroughControl(controlUrl, undefined);
    }
  });

  it('never wrote a log line longer than 4 KiB', () => {
    const longest = Math.max(...driver!.stderr.split('\n').map((line) => Buffer.byteLength(line)));
    expect(longest).to.be.below(4096);
    expect(driver!.stderr).not.to.contain('E'.repeat(1024));
  });
});
