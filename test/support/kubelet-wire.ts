import type { RecordedCall, TimelineEntry } from './csi-recorder.js';

/**
 * What a kubelet sent a CSI driver over one pod's life (registration, publish, republishes,
 * unpublish), reduced to what does not depend on the pod, the run or the clock, so that two kubelets
 * can be compared: the real one (kubemark) in test/e2e/real-kubelet.test.ts, and the double in
 * test/integration/kubelet-double-wire.test.ts.
 */
export interface KubeletWire {
  /** The calls before the first NodeGetCapabilities (kubelet registering the driver). */
  readonly registration: readonly string[];
  /** NodeGetCapabilities calls per NodePublishVolume (after registration, all volumes). */
  readonly capabilitiesPerPublish: number;
  /** The calls between the last NodePublishVolume and the NodeUnpublishVolume. */
  readonly beforeUnpublish: readonly string[];
  /** Every call came over a connection of its own, closed afterwards. */
  readonly connectionPerCall: boolean;
  /** The NodePublishVolume request, its pod-specific values left out (keys of the maps, sorted). */
  readonly publish: {
    readonly volumeContextKeys: readonly string[];
    readonly secrets: Record<string, unknown>;
    readonly publishContext: Record<string, unknown>;
    readonly stagingTargetPath: unknown;
    readonly readonly: unknown;
    readonly volumeCapability: unknown;
  };
  /** Every NodePublishVolume for the volume carried the same request (the same tokens included). */
  readonly republishesIdentical: boolean;
  /** The NodeUnpublishVolume request's fields. */
  readonly unpublishKeys: readonly string[];
}

/**
 * Recorded from kubelet v1.34.4 (kubemark's hollow node, built by test/control-plane/build-binaries.sh)
 * with the CSIDriver of deploy/csidriver.yaml plus `tokenRequests: [{audience: vault, expirationSeconds:
 * 600}]`, a pod whose container mounts one inline volume, and a pod delete; see
 * test/control-plane/README.md for the cadence figures of the same run.
 */
export const KUBELET_V1_34_WIRE: KubeletWire = {
  registration: ['NodeGetInfo'],
  capabilitiesPerPublish: 2,
  beforeUnpublish: [],
  connectionPerCall: true,
  publish: {
    volumeContextKeys: [
      'csi.storage.k8s.io/ephemeral',
      'csi.storage.k8s.io/pod.name',
      'csi.storage.k8s.io/pod.namespace',
      'csi.storage.k8s.io/pod.uid',
      'csi.storage.k8s.io/serviceAccount.name',
      'csi.storage.k8s.io/serviceAccount.tokens',
      'secretProviderClass',
    ],
    secrets: {},
    publishContext: {},
    stagingTargetPath: '',
    readonly: true,
    volumeCapability: { accessMode: { mode: 'SINGLE_NODE_WRITER' }, mount: { fsType: '', mountFlags: [], volumeMountGroup: '' }, accessType: 'mount' },
  },
  republishesIdentical: true,
  unpublishKeys: ['targetPath', 'volumeId'],
};

/**
 * Reduces a recorder's timeline for one volume (its target path) to a KubeletWire. Calls for which
 * `leftOut` holds (those while the driver was down, say) count only for `connectionPerCall`.
 */
export function kubeletWireOf(timeline: readonly TimelineEntry[], targetPath: string, leftOut: (call: RecordedCall) => boolean = () => false): KubeletWire {
  const allCalls = timeline.filter((entry): entry is RecordedCall => entry.kind === 'call');
  const calls = allCalls.filter((call) => !leftOut(call));
  const firstCapabilities = calls.findIndex((call) => call.method === 'NodeGetCapabilities');
  const registration = calls.slice(0, firstCapabilities === -1 ? calls.length : firstCapabilities).map((call) => call.method);
  const afterRegistration = calls.slice(registration.length);
  const publishes = afterRegistration.filter((call) => call.method === 'NodePublishVolume' && call.request['targetPath'] === targetPath);
  const unpublishAt = afterRegistration.findIndex((call) => call.method === 'NodeUnpublishVolume' && call.request['targetPath'] === targetPath);
  const lastPublishAt = afterRegistration.lastIndexOf(publishes.at(-1)!);
  const capabilities = afterRegistration.filter((call) => call.method === 'NodeGetCapabilities').length;
  const allPublishes = afterRegistration.filter((call) => call.method === 'NodePublishVolume').length;
  const first = publishes[0]?.request ?? {};
  const connects = timeline.filter((entry) => entry.kind === 'connect').length;
  const closes = timeline.filter((entry) => entry.kind === 'close').length;
  return {
    registration,
    capabilitiesPerPublish: allPublishes === 0 ? 0 : capabilities / allPublishes,
    beforeUnpublish: unpublishAt === -1 ? [] : afterRegistration.slice(lastPublishAt + 1, unpublishAt).map((call) => call.method),
    connectionPerCall: connects === allCalls.length && closes === connects,
    publish: {
      volumeContextKeys: Object.keys((first['volumeContext'] as object | undefined) ?? {}).sort(),
      secrets: (first['secrets'] as Record<string, unknown> | undefined) ?? {},
      publishContext: (first['publishContext'] as Record<string, unknown> | undefined) ?? {},
      stagingTargetPath: first['stagingTargetPath'],
      readonly: first['readonly'],
      volumeCapability: first['volumeCapability'],
    },
    // Go sends map entries in any order: the requests are compared with sorted keys.
    republishesIdentical: publishes.every((call) => canonical(call.request) === canonical(first)),
    unpublishKeys: unpublishAt === -1 ? [] : Object.keys(afterRegistration[unpublishAt]!.request).sort(),
  };
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}
