import type { ApiCredentials } from './api-credentials.js';
import { ApiClient, type WatchStarter } from './api-client.js';

export { loadApiCredentials } from './api-credentials.js';

export interface KubernetesClientOptions {
  /** Sent as User-Agent; `secrets-store-csi/<version>` in the driver. */
  readonly userAgent?: string;
  /** Told about every read that went to the API server because no local cache could answer it. */
  readonly onDirectRead?: (resource: string) => void;
}

/**
 * The API connection the Kubernetes adapters share: one kept-alive client made from the credentials,
 * its watches, and `read`, the one way an adapter reads an object past its caches (counted).
 */
export class KubernetesClient {
  readonly api: ApiClient;
  readonly watch: WatchStarter;

  constructor(
    credentials: ApiCredentials,
    private readonly options: KubernetesClientOptions = {},
  ) {
    this.api = new ApiClient(credentials, { userAgent: options.userAgent ?? 'secrets-store-csi' });
    this.watch = this.api.watch;
  }

  /** GETs one object from the API server; `resource` names it for the direct-read count. */
  read<T>(resource: string, path: string): Promise<T> {
    this.options.onDirectRead?.(resource);
    return this.api.get<T>(path);
  }

  close(): void {
    this.api.close();
  }
}

/** API paths of the objects the driver reads and writes; names are URL-encoded. */
export const apiPaths = {
  pods: '/api/v1/pods',
  secretsOfAllNamespaces: '/api/v1/secrets',
  pod: (namespace: string, name: string) => `${namespaced('/api/v1', namespace)}/pods/${encodeURIComponent(name)}`,
  allSecrets: '/api/v1/secrets',
  secrets: (namespace: string) => `${namespaced('/api/v1', namespace)}/secrets`,
  secret: (namespace: string, name: string) => `${apiPaths.secrets(namespace)}/${encodeURIComponent(name)}`,
  events: (namespace: string) => `${namespaced('/api/v1', namespace)}/events`,
  event: (namespace: string, name: string) => `${apiPaths.events(namespace)}/${encodeURIComponent(name)}`,
  serviceAccountToken: (namespace: string, serviceAccount: string) =>
    `${namespaced('/api/v1', namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
  leases: (namespace: string) => `${namespaced('/apis/coordination.k8s.io/v1', namespace)}/leases`,
  lease: (namespace: string, name: string) => `${apiPaths.leases(namespace)}/${encodeURIComponent(name)}`,
  /** Deployments, StatefulSets, DaemonSets or ReplicaSets (`plural`) of all namespaces. */
  apps: (plural: string) => `/apis/apps/v1/${plural}`,
  appsObject: (plural: string, namespace: string, name: string) => `${namespaced('/apis/apps/v1', namespace)}/${plural}/${encodeURIComponent(name)}`,
  csiDriver: (name: string) => `/apis/storage.k8s.io/v1/csidrivers/${encodeURIComponent(name)}`,
  /** A custom resource collection, cluster-wide or in one namespace. */
  custom: (group: string, version: string, plural: string, namespace?: string) =>
    namespace === undefined ? `/apis/${group}/${version}/${plural}` : `${namespaced(`/apis/${group}/${version}`, namespace)}/${plural}`,
  customObject: (group: string, version: string, plural: string, namespace: string, name: string) =>
    `${apiPaths.custom(group, version, plural, namespace)}/${encodeURIComponent(name)}`,
};

function namespaced(prefix: string, namespace: string): string {
  return `${prefix}/namespaces/${encodeURIComponent(namespace)}`;
}
