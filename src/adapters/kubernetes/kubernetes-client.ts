import { delimiter } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig, StorageV1Api, Watch } from '@kubernetes/client-node';

/**
 * The API clients the Kubernetes adapters share, made from one KubeConfig. Plain values, no
 * connection state of their own: each call opens (or reuses) an HTTP connection.
 */
export class KubernetesClient {
  readonly core: CoreV1Api;
  readonly customObjects: CustomObjectsApi;
  readonly storage: StorageV1Api;
  readonly watch: Watch;

  constructor(readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    this.storage = kubeConfig.makeApiClient(StorageV1Api);
    this.watch = new Watch(kubeConfig);
  }
}

/**
 * The kubeconfig the driver talks with: the file(s) given (`--kubeconfig`, whose default is KUBECONFIG;
 * with several files the first one's current context wins, as with kubectl), else the pod's
 * in-cluster service account. Throws naming what is missing when neither is there.
 */
export function loadKubeConfig(kubeconfigPath: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kubeConfig = new KubeConfig();
  const files = kubeconfigPath.split(delimiter).filter((file) => file !== '');
  if (files.length === 0) {
    if (!env['KUBERNETES_SERVICE_HOST']) {
      throw new Error('no kubeconfig: pass --kubeconfig (or set KUBECONFIG), or run in a pod (KUBERNETES_SERVICE_HOST is not set)');
    }
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  for (const [index, file] of files.entries()) {
    if (index === 0) {
      kubeConfig.loadFromFile(file);
      continue;
    }
    const more = new KubeConfig();
    more.loadFromFile(file);
    kubeConfig.mergeConfig(more, true);
  }
  if (kubeConfig.getCurrentCluster() === null) throw new Error(`kubeconfig "${kubeconfigPath}" has no current context with a cluster`);
  return kubeConfig;
}
