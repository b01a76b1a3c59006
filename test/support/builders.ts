import { MIN_VOLUME_CAPACITY } from '../../src/domain/volume-capacity.js';
import type { VolumeSettings } from '../../src/domain/volume-ownership.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import type { SecretObject, SecretProviderClass } from '../../src/domain/secret-provider-class.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';

export const KUBELET_ROOT = '/var/lib/kubelet';

export function targetPathFor(podUid: string, volumeName = 'secrets', root = KUBELET_ROOT): string {
  return `${root}/pods/${podUid}/volumes/kubernetes.io~csi/${volumeName}/mount`;
}

export function aClass(overrides: Partial<SecretProviderClass> = {}): SecretProviderClass {
  return {
    namespace: 'default',
    name: 'app-secrets',
    uid: 'spc-uid-1',
    generation: 1,
    provider: 'fake',
    parameters: { objects: 'db-password' },
    secretObjects: [],
    annotations: {},
    ...overrides,
  };
}

export function aSecretObject(overrides: Partial<SecretObject> = {}): SecretObject {
  return {
    secretName: 'app-synced',
    type: 'Opaque',
    labels: {},
    annotations: {},
    data: [{ objectName: 'db-password', key: 'password' }],
    ...overrides,
  };
}

export function aPublishCommand(
  overrides: Partial<PublishCommand> & { podUid?: string; podName?: string; className?: string } = {},
): PublishCommand {
  const { podUid = 'pod-uid-1', podName = 'app-0', className = 'app-secrets', ...rest } = overrides;
  return {
    volumeId: `csi-${podUid}`,
    targetPath: targetPathFor(podUid),
    readonly: true,
    volumeContext: {
      [VolumeContextKey.secretProviderClass]: className,
      [VolumeContextKey.podName]: podName,
      [VolumeContextKey.podNamespace]: 'default',
      [VolumeContextKey.podUid]: podUid,
      [VolumeContextKey.serviceAccountName]: 'app',
      [VolumeContextKey.ephemeral]: 'true',
    },
    secrets: {},
    ...rest,
  };
}

export function aFile(path: string, text: string, mode = 0o644): SecretFile {
  return { path, mode, contents: new TextEncoder().encode(text) };
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Mount settings of an upstream-like volume (root:root, 0755) at the floor capacity. */
export function aVolumeSettings(overrides: Partial<VolumeSettings> = {}): VolumeSettings {
  return { capacity: MIN_VOLUME_CAPACITY, mode: 0o755, group: undefined, ...overrides };
}
