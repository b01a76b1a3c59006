import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { BUILD_SCRIPT, kubernetesBinary } from './control-plane.js';
import { skipOrFailForMissingPeer } from './test-peers.js';
import { TmpfsSandbox } from './tmpfs-sandbox.js';

/**
 * A real kubelet for tests: kubemark's hollow node (`kubemark --morph=kubelet`), built by
 * test/control-plane/build-binaries.sh from the same k8s.io/kubernetes as the control plane. It is the
 * kubelet code itself (pod workers, volume manager, CSI volume plugin, plugin watcher, token manager,
 * node registration and status) with a fake container runtime (every container "runs" at once), a
 * fake cAdvisor, and a FakeMounter for kubelet's own mount checks, so the CSI driver is the only thing
 * that really mounts. What kubemark fixes and the test cannot change: the root directory is a fresh
 * `/tmp/hollow-kubelet.<random>` (read from its log), syncFrequency is 10 s, controller attach/detach
 * is off, and the CSIDriver/pods/Secrets/tokens come from the API server with the kubeconfig's identity.
 */
export interface HollowKubelet {
  readonly nodeName: string;
  /** kubelet's root directory (`--root-dir`): pods/, plugins/, plugins_registry/. */
  readonly root: string;
  /** What kubemark logged so far (klog text). */
  log(): string;
  readonly running: boolean;
  /** Stops kubemark (SIGTERM, then SIGKILL), unmounts whatever is left under the root and removes it. */
  stop(): Promise<void>;
}

export function kubemarkBinary(env: NodeJS.ProcessEnv = process.env): string {
  return kubernetesBinary('kubemark', env);
}

/** For a suite's `before` hook: the kubemark binary, or a skip (locally) / a failure naming the build script (CI=true). */
export function requireKubemark(context: Mocha.Context, env: NodeJS.ProcessEnv = process.env): string {
  const binary = kubemarkBinary(env);
  if (existsSync(binary)) return binary;
  return skipOrFailForMissingPeer(context, `kubemark missing (${binary}): run ${BUILD_SCRIPT} first`, env);
}

export interface HollowKubeletOptions {
  readonly binary: string;
  /** A kubeconfig for the kubelet's identity (kubemark reads it from a file). */
  readonly kubeconfigPath: string;
  readonly nodeName: string;
  /** klog verbosity; 4 logs each volume operation. */
  readonly verbosity?: number;
  /** How long to wait for the root directory and the node registration. */
  readonly timeoutMs?: number;
}

const ROOT_LINE = /Using (\/\S+) as root dir for hollow-kubelet/;
const RUNTIME_LINE = /"Connecting to runtime service" endpoint="unix:\/\/(\/\S+\.sock)"/;
const REGISTERED_LINE = /"Successfully registered node"/;

/** Starts kubemark's hollow kubelet and resolves once it has registered its Node. */
export async function startHollowKubelet(options: HollowKubeletOptions): Promise<HollowKubelet> {
  const child = spawn(
    options.binary,
    [
      '--morph=kubelet',
      `--name=${options.nodeName}`,
      `--kubeconfig=${options.kubeconfigPath}`,
      // Any free port: other runs on this machine must not collide; the read-only port is off.
      '--kubelet-port=0',
      '--kubelet-read-only-port=0',
      // No containerd here: images come from the fake runtime's image service.
      '--use-host-image-service=false',
      `--v=${options.verbosity ?? 4}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const chunks: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = (): string => chunks.join('');
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);

  let root: string | undefined;
  let runtimeSocket: string | undefined;
  const stop = async (): Promise<void> => {
    process.off('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (root !== undefined) await TmpfsSandbox.at(root).dispose();
    if (runtimeSocket !== undefined) await rm(runtimeSocket, { force: true });
  };
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    while (!REGISTERED_LINE.test(log())) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kubemark exited (${child.exitCode ?? child.signalCode})`);
      if (Date.now() > deadline) throw new Error(`kubemark did not register node ${options.nodeName} within ${options.timeoutMs ?? 60_000} ms`);
      root ??= ROOT_LINE.exec(log())?.[1];
      runtimeSocket ??= RUNTIME_LINE.exec(log())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    root ??= ROOT_LINE.exec(log())?.[1];
    runtimeSocket ??= RUNTIME_LINE.exec(log())?.[1];
    if (root === undefined) throw new Error('kubemark did not say which root directory it uses');
  } catch (error) {
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- kubemark (last lines) ---\n${log().split('\n').slice(-30).join('\n')}`);
  }
  const kubeletRoot = root;
  return {
    nodeName: options.nodeName,
    root: kubeletRoot,
    log,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    stop,
  };
}

