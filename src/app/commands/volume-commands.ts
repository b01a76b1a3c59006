import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { CsiCallError, KubeletCsiClient } from '../../adapters/fake-kubelet/csi-node-client.js';
import {
  DRIVER_NAME,
  prepareVolumeDir,
  publishCommand,
  removePodDirs,
  removeVolumeDir,
  targetPath,
  volumeId,
  type InlineVolume,
} from '../../adapters/fake-kubelet/kubelet-volume.js';
import { stablePodUid } from '../../adapters/memory-cluster/manifests.js';
import type { PodIdentity, StringMap } from '../../domain/volume-binding.js';
import type { CliIo } from '../cli-io.js';
import { absolutePath, namespaceName, objectName, positive, socketPathOf, unixEndpoint, type FlagCheck } from '../flag-checks.js';
import { parseFlags, usage, UsageError, type FlagDefinition, type FlagValues } from '../flags.js';

/** What the driver's CSIDriver object (deploy/csidriver.yaml) makes kubelet send: pod info, no tokens. */
const DEPLOYED_POD_INFO = { podInfoOnMount: true } as const;

/** Exit code when the driver's socket cannot be reached (nothing was asked of the driver). */
export const EXIT_DRIVER_UNREACHABLE = 3;
/** Exit code when the driver answered the call with an error. */
export const EXIT_CALL_FAILED = 1;

/** What kubelet's target paths allow as the pod uid and volume name directories. */
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const pathSegment =
  (what: string): FlagCheck =>
  (value) =>
    value === '' || (PATH_SEGMENT.test(String(value)) && String(value).length <= 255) ? undefined : `${what} of letters, digits, ".", "_" and "-"`;

const COMMON_FLAGS: readonly FlagDefinition[] = [
  { name: 'endpoint', kind: 'string', default: 'unix:///tmp/csi.sock', env: 'CSI_ENDPOINT', check: unixEndpoint, help: "the driver's CSI endpoint (its --endpoint)" },
  { name: 'kubelet-root', kind: 'string', default: '/var/lib/kubelet', check: absolutePath, help: "the driver's --kubelet-root: the target path is under it" },
  { name: 'pod-namespace', kind: 'string', default: 'default', check: namespaceName, help: 'namespace of the pod' },
  { name: 'pod-name', kind: 'string', default: '', check: objectName('a pod name'), help: 'name of the pod (required)' },
  {
    name: 'pod-uid',
    kind: 'string',
    default: '',
    check: pathSegment('a uid'),
    shownDefault: 'derived from namespace and name, as driver --cluster memory does for a manifest Pod without one',
    help: 'uid of the pod',
  },
  { name: 'volume', kind: 'string', default: 'secrets-store-inline', check: pathSegment('a volume name'), help: "the volume's name in the pod spec" },
  { name: 'timeout', kind: 'duration', default: 120_000, check: positive('a duration'), help: "deadline of the call (kubelet's is 2m)" },
  { name: 'nodeid', kind: 'string', default: '', env: 'KUBE_NODE_NAME', help: "the node kubelet writes into the volume's vol_data.json" },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

export const PUBLISH_FLAGS: readonly FlagDefinition[] = [
  ...COMMON_FLAGS,
  { name: 'class', kind: 'string', default: '', help: 'the SecretProviderClass (volumeAttributes.secretProviderClass; required)' },
  { name: 'service-account', kind: 'string', default: 'default', check: objectName('a service account name'), help: "the pod's service account" },
  { name: 'attribute', kind: 'map', default: {}, help: 'another volumeAttributes entry, key=value (repeat the flag for more)' },
  {
    name: 'secrets-file',
    kind: 'string',
    default: '',
    help: "YAML or JSON map of the nodePublishSecretRef Secret's data (string values), sent as kubelet sends it",
  },
  { name: 'readonly', kind: 'bool', default: true, help: "csi.readOnly of the volume (the driver refuses false, as kubelet's would be)" },
];

export const UNPUBLISH_FLAGS: readonly FlagDefinition[] = COMMON_FLAGS;

const PUBLISH_SUMMARY = `Publishes one inline volume over the driver's CSI socket as kubelet v1.34 does: computes kubelet's
volume id and target path (<kubelet-root>/pods/<pod-uid>/volumes/kubernetes.io~csi/<volume>/mount), writes
the volume directory and its vol_data.json, asks NodeGetCapabilities and calls NodePublishVolume with the
pod's volume context. Prints the target path.
Exit 0: published; 1: the driver answered with an error (its gRPC code and message); 2: bad flags;
3: the driver's socket cannot be reached.`;

const UNPUBLISH_SUMMARY = `Unpublishes one inline volume as kubelet does when its pod goes: NodeUnpublishVolume for kubelet's
volume id and target path, then removes the volume directory (vol_data.json and empty directories only).
Prints nothing.
Exit 0: unpublished (also when nothing was published); 1: the driver answered with an error; 2: bad
flags; 3: the driver's socket cannot be reached.`;

/** The volume a one-shot command names: where it lives and how kubelet identifies it. */
interface VolumeTarget {
  readonly socketPath: string;
  readonly kubeletRoot: string;
  readonly nodeName: string;
  readonly pod: PodIdentity;
  readonly volumeName: string;
  readonly targetPath: string;
  readonly timeoutMs: number;
}

/** `secrets-store-csi publish`: a kubelet NodePublishVolume for scripts. */
export async function runPublishCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(PUBLISH_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('publish', PUBLISH_SUMMARY, PUBLISH_FLAGS)}\n`);
    return 0;
  }
  const target = volumeTarget(values, values['service-account'] as string);
  const className = values['class'] as string;
  if (className.trim() === '') throw new UsageError('flag "--class" is required (the SecretProviderClass of the volume)');
  const volume: InlineVolume = {
    name: target.volumeName,
    volumeAttributes: { ...(values['attribute'] as StringMap), secretProviderClass: className },
    nodePublishSecrets: await readSecretsFile(values['secrets-file'] as string),
    readOnly: values['readonly'] as boolean,
  };
  const code = await call(target, io, async (client) => {
    await prepareVolumeDir(target.kubeletRoot, DRIVER_NAME, target.nodeName, target.pod.uid, target.volumeName);
    await client.publish(publishCommand(target.kubeletRoot, target.pod, volume, DEPLOYED_POD_INFO), { timeoutMs: target.timeoutMs });
  });
  if (code === 0) io.out(`${target.targetPath}\n`);
  return code;
}

/** `secrets-store-csi unpublish`: a kubelet NodeUnpublishVolume for scripts. */
export async function runUnpublishCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(UNPUBLISH_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('unpublish', UNPUBLISH_SUMMARY, UNPUBLISH_FLAGS)}\n`);
    return 0;
  }
  const target = volumeTarget(values, '');
  return call(target, io, async (client) => {
    await client.unpublish({ volumeId: volumeId(target.pod.uid, target.volumeName), targetPath: target.targetPath }, { timeoutMs: target.timeoutMs });
    await removeVolumeDir(target.kubeletRoot, target.pod.uid, target.volumeName);
    await removePodDirs(target.kubeletRoot, target.pod.uid);
  });
}

function volumeTarget(values: FlagValues, serviceAccountName: string): VolumeTarget {
  const podName = values['pod-name'] as string;
  if (podName === '') throw new UsageError('flag "--pod-name" is required (the name of the pod)');
  const namespace = values['pod-namespace'] as string;
  const uid = (values['pod-uid'] as string) || stablePodUid(namespace, podName);
  const kubeletRoot = values['kubelet-root'] as string;
  const volumeName = values['volume'] as string;
  return {
    socketPath: socketPathOf(values['endpoint'] as string),
    kubeletRoot,
    nodeName: values['nodeid'] as string,
    pod: { namespace, name: podName, uid, serviceAccountName },
    volumeName,
    targetPath: targetPath(kubeletRoot, uid, volumeName),
    timeoutMs: values['timeout'] as number,
  };
}

/** Reaches the socket first, so "the driver is not there" (exit 3) is never mistaken for the driver's own UNAVAILABLE. */
async function call(target: VolumeTarget, io: CliIo, action: (client: KubeletCsiClient) => Promise<void>): Promise<number> {
  const unreachable = await socketProblem(target.socketPath);
  if (unreachable !== undefined) {
    io.err(`secrets-store-csi: cannot reach the driver at ${target.socketPath}: ${unreachable}\n`);
    return EXIT_DRIVER_UNREACHABLE;
  }
  try {
    await action(new KubeletCsiClient(target.socketPath));
  } catch (error) {
    if (!(error instanceof CsiCallError)) throw error;
    io.err(`secrets-store-csi: the driver answered ${error.code}: ${error.details}\n`);
    return EXIT_CALL_FAILED;
  }
  return 0;
}

function socketProblem(socketPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ENOENT' ? 'no socket there (is the driver running with this --endpoint?)' : error.message);
    });
  });
}

/** `--secrets-file`: a map of strings, as a Secret's decoded data. */
async function readSecretsFile(path: string): Promise<StringMap> {
  if (path === '') return {};
  const fail = (reason: string): never => {
    throw new UsageError(`invalid value "${path}" for flag "--secrets-file": ${reason}`);
  };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return fail((error as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    // The parser's message quotes the text around the error: a secret. Only the position is told.
    const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    return fail(`not YAML or JSON${line === undefined ? '' : ` (line ${line})`}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('expected a map of names to string values');
  for (const [key, value] of Object.entries(parsed)) if (typeof value !== 'string') fail(`the value of "${key}" is not a string (quote it)`);
  return parsed as StringMap;
}
