import { PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node';

/** Where the driver's custom resources live in the API (group `secrets-store.csi.x-k8s.io`, version v1). */
export const CSI_GROUP = 'secrets-store.csi.x-k8s.io';
export const CSI_VERSION = 'v1';
export const SECRET_PROVIDER_CLASSES = 'secretproviderclasses';
export const POD_STATUSES = 'secretproviderclasspodstatuses';

/** JSON through JSON: Date fields of the client's typed models become RFC 3339 text, `undefined` fields go. */
export function toJson<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Request options that send a PATCH body as a JSON merge patch (RFC 7386). */
export function mergePatch(): ConfigurationOptions {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
