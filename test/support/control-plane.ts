import { ApiextensionsV1Api, CoreV1Api, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from './project-root.js';
import { skipOrFailForMissingPeer, testPeersCacheRoot } from './test-peers.js';

/**
 * A real control plane for tests: etcd, kube-apiserver and kube-controller-manager (garbage
 * collector, namespace and service-account controllers; the workload controllers on request) from the binaries that
 * test/control-plane/build-binaries.sh caches outside the repository, on loopback with free ports.
 * The API server serves TLS with a self-signed certificate (--cert-dir), knows an admin by token
 * (system:masters), signs service-account tokens (TokenRequest works), and has deploy/crds (or the CRDs given) applied.
 */
export interface ControlPlane {
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** A kubeconfig file for the admin (skips TLS verification of the self-signed certificate). */
  readonly kubeconfigPath: string;
  readonly adminToken: string;
  /** The token of `nobody`, a user no role is bound to (authenticated, authorized for nothing). */
  readonly nobodyToken: string;
  /** A fresh admin KubeConfig (callers may change it without affecting others). */
  adminKubeConfig(): KubeConfig;
  /** A KubeConfig that authenticates with `token` instead of the admin's. */
  kubeConfigWithToken(token: string): KubeConfig;
  /** Creates a namespace with a unique name starting with `prefix`. */
  createNamespace(prefix: string): Promise<string>;
  /** etcd's client URL (`http://127.0.0.1:<port>`), e.g. to compact its history. */
  readonly etcdUrl: string;
  /**
   * Stops kube-apiserver, waits `downMs`, starts it again on the same port with the same flags and
   * data, and resolves once it is ready. etcd and kube-controller-manager keep running.
   */
  restartApiServer(downMs: number): Promise<void>;
  /** Stops every process and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  /** The binaries that are not there (empty when all are). */
  readonly missing: readonly string[];
}

export const BUILD_SCRIPT = 'test/control-plane/build-binaries.sh';

/** Where build-binaries.sh puts the binaries for the versions pinned in test/control-plane/{k8s,etcd}/go.mod. */
export function controlPlaneBinaries(env: NodeJS.ProcessEnv = process.env): ControlPlaneBinaries {
  const root = projectRoot(import.meta.url);
  const etcd = pinnedVersion(join(root, 'test/control-plane/etcd/go.mod'), 'go.etcd.io/etcd/server/v3');
  const binaries = {
    etcd: join(testPeersCacheRoot(env), `etcd-${etcd}`, 'etcd'),
    kubeApiserver: kubernetesBinary('kube-apiserver', env),
    kubeControllerManager: kubernetesBinary('kube-controller-manager', env),
  };
  return { ...binaries, missing: Object.values(binaries).filter((path) => !existsSync(path)) };
}

/** A binary build-binaries.sh builds from the k8s.io/kubernetes version pinned in test/control-plane/k8s/go.mod. */
export function kubernetesBinary(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const k8s = pinnedVersion(join(projectRoot(import.meta.url), 'test/control-plane/k8s/go.mod'), 'k8s.io/kubernetes');
  return join(testPeersCacheRoot(env), `k8s-${k8s}`, name);
}

/**
 * For a suite's `before` hook: resolves the binaries, or skips the suite with the reason (locally) or
 * fails naming the build script (when CI=true), so a CI run can never pass by skipping.
 */
export function requireControlPlaneBinaries(context: Mocha.Context, env: NodeJS.ProcessEnv = process.env): ControlPlaneBinaries {
  const binaries = controlPlaneBinaries(env);
  if (binaries.missing.length === 0) return binaries;
  return skipOrFailForMissingPeer(context, `control-plane binaries missing (${binaries.missing.join(', ')}): run ${BUILD_SCRIPT} first`, env);
}

const CRD_DIR = 'deploy/crds';

/** kube-controller-manager's controllers every control plane runs: garbage collection, namespaces, service accounts. */
export const BASE_CONTROLLERS: readonly string[] = ['garbage-collector-controller', 'namespace-controller', 'serviceaccount-controller'];

/** Add these for Deployments that roll out: the deployment controller makes ReplicaSets, the ReplicaSet controller pods. */
export const WORKLOAD_CONTROLLERS: readonly string[] = ['deployment-controller', 'replicaset-controller'];

export interface ControlPlaneOptions {
  /** kube-controller-manager's --controllers (default: BASE_CONTROLLERS). */
  readonly controllers?: readonly string[];
}

interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly logPath: string;
}

export interface ControlPlaneOptions {
  /** The CRDs to create, a directory of YAML files (default: the repository's deploy/crds). */
  readonly crdDir?: string;
}

/** Starts the control plane; rejects (after cleaning up) with the tail of the failing process's log. */
export async function startControlPlane(binaries: ControlPlaneBinaries = controlPlaneBinaries(), options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (binaries.missing.length > 0) throw new Error(`control-plane binaries missing (${binaries.missing.join(', ')}): run ${BUILD_SCRIPT}`);
  const dir = await mkdtemp(join(tmpdir(), 'ssc-control-plane-'));
  const processes: RunningProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killAll);
    for (const running of [...processes].reverse()) await terminate(running);
    await rm(dir, { recursive: true, force: true });
  };
  const killAll = (): void => {
    for (const running of processes) running.child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  try {
    const [etcdPort, etcdPeerPort, apiPort] = await freePorts(3);
    const adminToken = randomBytes(24).toString('hex');
    const nobodyToken = randomBytes(24).toString('hex');
    const server = `https://127.0.0.1:${apiPort}`;
    await writeFile(join(dir, 'tokens.csv'), `${adminToken},admin,admin-uid,"system:masters"\n${nobodyToken},nobody,nobody-uid\n`, { mode: 0o600 });
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(dir, 'sa.key'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(join(dir, 'sa.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, adminToken), { mode: 0o600 });

    processes.push(
      launch('etcd', binaries.etcd, dir, [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]),
    );
    await waitUntil('etcd', processes[0]!, () => httpGet(`http://127.0.0.1:${etcdPort}/health`), 60_000);

    const apiServerArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${join(dir, 'certs')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--v=1',
    ];
    processes.push(launch('kube-apiserver', binaries.kubeApiserver, dir, apiServerArgs));
    await waitUntil('kube-apiserver', processes[1]!, () => httpsGet(`${server}/readyz`, adminToken), 120_000);

    const adminKubeConfig = (): KubeConfig => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(kubeconfigPath);
      return kubeConfig;
    };
    await applyCrds(adminKubeConfig(), options.crdDir ?? join(projectRoot(import.meta.url), CRD_DIR));
    // After the CRDs, so that the garbage collector's first discovery already knows their kinds.
    processes.push(
      launch('kube-controller-manager', binaries.kubeControllerManager, dir, [
        `--kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        `--controllers=${(options.controllers ?? BASE_CONTROLLERS).join(',')}`,
        '--secure-port=0',
        '--concurrent-gc-syncs=5',
        '--v=1',
      ]),
    );

    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    return {
      server,
      kubeconfigPath,
      adminToken,
      nobodyToken,
      adminKubeConfig,
      kubeConfigWithToken(token: string): KubeConfig {
        const kubeConfig = new KubeConfig();
        kubeConfig.loadFromString(kubeconfigYaml(server, token));
        return kubeConfig;
      },
      async createNamespace(prefix: string): Promise<string> {
        const name = `${prefix}-${randomBytes(4).toString('hex')}`;
        await core.createNamespace({ body: { metadata: { name } } });
        return name;
      },
      stop,
      etcdUrl: `http://127.0.0.1:${etcdPort}`,
      async restartApiServer(downMs: number): Promise<void> {
        await terminate(processes[1]!);
        await sleep(downMs);
        processes[1] = launch('kube-apiserver', binaries.kubeApiserver, dir, apiServerArgs);
        await waitUntil('kube-apiserver', processes[1], () => httpsGet(`${server}/readyz`, adminToken), 120_000);
      },
    };
  } catch (error) {
    const logs = processes.map((running) => `--- ${running.name} (last lines) ---\n${tail(running.logPath)}`).join('\n');
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  }
}

function launch(name: string, binary: string, dir: string, args: string[]): RunningProcess {
  const logPath = join(dir, `${name}.log`);
  const log = openSync(logPath, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { name, child, exited, logPath };
}

async function terminate(running: RunningProcess): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill('SIGTERM');
  const exited = await Promise.race([running.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!exited) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
}

async function waitUntil(name: string, running: RunningProcess, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (running.child.exitCode !== null || running.child.signalCode !== null) {
      throw new Error(`${name} exited (${running.child.exitCode ?? running.child.signalCode}) before it was ready`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Creates each CRD of `dir` and waits until it is Established and its resource answers. */
async function applyCrds(kubeConfig: KubeConfig, dir: string): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort()) {
    for (const document of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const crd = document.toJSON() as V1CustomResourceDefinition | null;
      if (crd) crds.push(crd);
    }
  }
  for (const crd of crds) await api.createCustomResourceDefinition({ body: crd });
  const deadline = Date.now() + 60_000;
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    for (;;) {
      const stored = await api.readCustomResourceDefinition({ name });
      const established = stored.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True');
      const storageVersion = stored.spec.versions.find((version) => version.storage)!.name;
      const path = `/apis/${stored.spec.group}/${storageVersion}/${stored.spec.names.plural}`;
      if (established && (await servesPath(kubeConfig, path))) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established within 60 s`);
      await sleep(100);
    }
  }
}

async function servesPath(kubeConfig: KubeConfig, path: string): Promise<boolean> {
  const cluster = kubeConfig.getCurrentCluster()!;
  const token = (kubeConfig.getCurrentUser() as { token?: string } | null)?.token ?? '';
  return httpsGet(`${cluster.server}${path}`, token);
}

function kubeconfigYaml(server: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: test',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    '    user: test',
    'current-context: test',
    '',
  ].join('\n');
}

function httpGet(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function httpsGet(url: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** `count` distinct free TCP ports on 127.0.0.1 (free when asked; a process started next binds them). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function pinnedVersion(goMod: string, module: string): string {
  for (const line of readFileSync(goMod, 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const at = fields[0] === 'require' ? 1 : 0;
    if (fields[at] === module && fields[at + 1]?.startsWith('v')) return fields[at + 1]!.slice(1);
  }
  throw new Error(`${goMod} does not pin ${module}`);
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
