import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { eventually } from '../contract/eventually.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { rotateThroughControl } from './fake-provider-control.js';
import { manifestPodTarget, memoryDriverArgs, readStateObjects, type MemoryProfilePaths, type StateObject } from './memory-profile.js';
import { CliProcess, mountsUnder } from './processes.js';

const run = promisify(execFile);

const CLASS_YAML = `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: app-secrets, namespace: default}
spec:
  provider: fake
  parameters: {objects: db-password}
`;

const podYaml = (name: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  nodeName: node-1
  containers: [{name: app, image: app}]
  volumes:
  - name: secrets
    csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: app-secrets}}
status: {phase: Running}
`;

/**
 * `driver --cluster memory` as a standalone node agent, as real processes: the one-shot kubelet calls
 * (`publish`, `unpublish`) and their exit codes, the state file (there at start, current when a call
 * returns, a failed write reported by /readyz, read back after a crash so the mounts keep rotating), and
 * the upstream flags it accepts (warnings, the profiling endpoint).
 */
describe('e2e: the standalone node agent (driver --cluster memory)', function () {
  this.timeout(120_000);
  let sandbox: TmpfsSandbox;
  let provider: CliProcess | undefined;
  let driver: CliProcess | undefined;
  let controlUrl: string;
  let paths: MemoryProfilePaths & { stateDir: string };

  const logs = (): string => `\ndriver stderr:\n${driver?.stderr ?? ''}\nprovider stderr:\n${provider?.stderr ?? ''}`;

  function startDriver(extra: readonly string[] = []): CliProcess {
    // The test makes kubelet's calls itself, with the one-shot commands.
    return CliProcess.start(memoryDriverArgs(paths, ['--rotation-poll-interval=1s', '--builtin-kubelet=false', ...extra]));
  }

  async function started(process: CliProcess): Promise<{ healthUrl: string }> {
    const health = await process.waitForStderr(/server=health address=(127\.0\.0\.1:\d+)/, 30_000);
    await process.waitForStderr(/driver started/, 30_000);
    return { healthUrl: `http://${health[1]}` };
  }

  async function oneShot(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const cli = CliProcess.start(args);
    const exit = await cli.waitForExit(60_000);
    return { code: exit.code, stdout: cli.stdout, stderr: cli.stderr };
  }

  const publish = (pod: string, extra: readonly string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    oneShot(['publish', `--endpoint=unix://${paths.csiSocket}`, `--kubelet-root=${paths.kubeletRoot}`, `--pod-name=${pod}`, '--volume=secrets', '--class=app-secrets', ...extra]);

  const stateObjects = (): Promise<StateObject[]> => readStateObjects(paths.stateFile);

  const targetOf = (pod: string): string => manifestPodTarget(paths.kubeletRoot, pod, 'secrets');

  before(async () => {
    sandbox = await TmpfsSandbox.create('sscsi-agent-');
    const root = sandbox.root;
    paths = {
      manifests: join(root, 'manifests'),
      providers: join(root, 'providers'),
      csiSocket: join(root, 'csi.sock'),
      stateDir: join(root, 'state'),
      stateFile: join(root, 'state', 'state.yaml'),
      kubeletRoot: sandbox.kubeletRoot,
    };
    await mkdir(paths.manifests);
    await mkdir(paths.stateDir);
    // The state directory is a file system of its own, so the test can make it read-only.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', paths.stateDir]);
    await writeFile(join(paths.manifests, 'class.yaml'), CLASS_YAML);
    await writeFile(join(paths.manifests, 'pods.yaml'), `${podYaml('app-0')}---\n${podYaml('app-1')}`);
    provider = CliProcess.start(['fake-provider', `--endpoint=unix://${join(paths.providers, 'fake.sock')}`, '--control-port=0']);
    controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;
  });

  after(async () => {
    await driver?.dispose();
    await provider?.dispose();
    await sandbox?.dispose();
  });

  it('writes the state file, with the manifest Pods, before its CSI socket serves', async () => {
    driver = startDriver(['--logtostderr=false', '--vmodule=csi-server=5', '--enable-pprof', '--pprof-port=0']);
    await started(driver);
    const pods = (await stateObjects()).filter((object) => object.kind === 'Pod').map((object) => object.metadata.name);
    expect(pods, logs()).to.deep.equal(['app-0', 'app-1']);
  });

  it('warns once about each upstream flag given a value it does not act on', () => {
    expect(driver!.stderr).to.match(/WARN +flag --logtostderr=false has no effect: logs always go to stderr/);
    expect(driver!.stderr).to.match(/WARN +flag --vmodule="csi-server=5" has no effect/);
    expect(driver!.stderr.match(/has no effect/g)).to.have.length(2);
  });

  it('serves the profiling endpoint on loopback with --enable-pprof', async () => {
    const address = (await driver!.waitForStderr(/server=pprof address=(127\.0\.0\.1:\d+)/, 10_000))[1]!;
    const response = await fetch(`http://${address}/debug/pprof/`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).to.equal(200);
    expect(await response.text()).to.contain('/debug/pprof/heap');
  });

  it('publish exits 0 printing the target, and the state file shows the pod status as it returns', async () => {
    const result = await publish('app-0');
    expect(result.code, result.stderr + logs()).to.equal(0);
    expect(result.stdout).to.equal(`${targetOf('app-0')}\n`);
    expect(await readFile(join(targetOf('app-0'), 'db-password'), 'utf8')).to.equal('db-password-v1');
    expect(mountsUnder(targetOf('app-0'))).to.deep.equal([targetOf('app-0')]);
    // No wait: the file was written before the driver answered.
    const statuses = (await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus');
    expect(statuses.map((status) => status.metadata.name)).to.deep.equal(['app-0-default-app-secrets']);
  });

  it('publish exits 1 with the code and message kubelet would see, for a class that does not exist', async () => {
    const result = await publish('app-1', ['--class=no-such-class']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/the driver answered NOT_FOUND: .*no-such-class/);
    expect(result.stdout).to.equal('');
  });

  it('publish and unpublish exit 3 when no driver answers on the socket', async () => {
    const missing = join(sandbox.root, 'nobody.sock');
    for (const command of ['publish', 'unpublish']) {
      const result = await oneShot([command, `--endpoint=unix://${missing}`, `--kubelet-root=${paths.kubeletRoot}`, '--pod-name=app-1', '--class=app-secrets'].filter((arg) => command === 'publish' || !arg.startsWith('--class')));
      expect(result.code, `${command}: ${result.stderr}`).to.equal(3);
      expect(result.stderr).to.contain(`cannot reach the driver at ${missing}: no socket there`);
    }
  });

  it('reports a state file it cannot write on /readyz with the reason, and recovers when it can', async () => {
    const { healthUrl } = await started(driver!);
    const readyz = async (): Promise<{ status: number; body: string }> => {
      const response = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return { status: response.status, body: await response.text() };
    };
    expect((await readyz()).status).to.equal(200);
    await run('mount', ['-o', 'remount,ro', paths.stateDir]);
    try {
      const published = await publish('app-1');
      expect(published.code, published.stderr).to.equal(0);
      const unready = await readyz();
      expect(unready.status).to.equal(503);
      expect(unready.body).to.contain(`[-]state-file failed: writing the state file ${paths.stateFile} failed: EROFS`);
      expect(driver!.stderr).to.match(/ERROR writing the state file failed/);
      expect((await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus')).to.have.length(1);
    } finally {
      await run('mount', ['-o', 'remount,rw', paths.stateDir]);
    }
    await eventually(async () => expect((await readyz()).status).to.equal(200), 60_000, 200);
    expect((await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus')).to.have.length(2);
    expect(driver!.stderr).to.contain('state file written again');
  });

  it('after a SIGKILL, a restarted driver takes its mounts back from the state file and keeps rotating them', async () => {
    const killed = await driver!.stop('SIGKILL', 15_000);
    expect(killed.signal).to.equal('SIGKILL');
    expect(existsSync(paths.csiSocket), 'a killed driver leaves its socket').to.equal(true);
    driver = startDriver();
    await started(driver);
    await driver.waitForStderr(/restart recovery done recovered=2 /, 30_000);
    expect(mountsUnder(paths.kubeletRoot).sort()).to.deep.equal([targetOf('app-0'), targetOf('app-1')].sort());
    expect(await rotateThroughControl(controlUrl, 'db-password')).to.equal('v2');
    await eventually(async () => {
      for (const pod of ['app-0', 'app-1']) expect(await readFile(join(targetOf(pod), 'db-password'), 'utf8')).to.equal('db-password-v2');
      const versions = (await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus').map((status) => status.status?.objects);
      expect(versions).to.deep.equal([[{ id: 'db-password', version: 'v2' }], [{ id: 'db-password', version: 'v2' }]]);
    }, 60_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });
    expect((await readdir(paths.stateDir)).filter((name) => name.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('unpublish exits 0 and leaves nothing mounted (the pod statuses stay with their Pods, as upstream); SIGTERM then stops the driver with exit 0', async () => {
    for (const pod of ['app-0', 'app-1']) {
      const result = await oneShot(['unpublish', `--endpoint=unix://${paths.csiSocket}`, `--kubelet-root=${paths.kubeletRoot}`, `--pod-name=${pod}`, '--volume=secrets']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('');
      expect(existsSync(join(targetOf(pod), '..'))).to.equal(false);
    }
    expect(mountsUnder(paths.kubeletRoot)).to.deep.equal([]);
    const statuses = (await stateObjects()).filter((object) => object.kind === 'SecretProviderClassPodStatus');
    expect(statuses.map((object) => object.metadata.name).sort()).to.deep.equal(['app-0-default-app-secrets', 'app-1-default-app-secrets']);
    expect(await driver!.stop('SIGTERM', 15_000)).to.deep.equal({ code: 0, signal: null });
  });
});
