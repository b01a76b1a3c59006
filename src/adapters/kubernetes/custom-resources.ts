import { PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node';
import type { KubeObject } from '../kube-objects/object-shapes.js';
import type { KubernetesClient } from './kubernetes-client.js';
import type { ListResult } from './watched-cache.js';

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

/** Every object of one of the driver's custom resources, in all namespaces, with the list's resourceVersion (what a watch cache starts from). */
export async function listCustomObjects<T extends KubeObject>(client: KubernetesClient, plural: string): Promise<ListResult<T>> {
  const list = (await client.customObjects.listClusterCustomObject({ group: CSI_GROUP, version: CSI_VERSION, plural })) as {
    items?: T[];
    metadata?: { resourceVersion?: string };
  };
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
}
