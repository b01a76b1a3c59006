import type { PodIdentity } from '../../domain/volume-binding.js';
import type { TokenSource } from '../../ports/token-source.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';
import { apiError } from './api-errors.js';
import type { KubernetesClient } from './kubernetes-client.js';

export interface KubernetesTokenSourceOptions {
  readonly client: KubernetesClient;
  /** Requested token lifetime (the CSIDriver's tokenRequests[].expirationSeconds); server default when absent. */
  readonly expirationSeconds?: number;
}

/** The service account the API server gives a pod that names none. */
const DEFAULT_SERVICE_ACCOUNT = 'default';

/**
 * Service-account tokens through the TokenRequest API (`serviceaccounts/token` create), one request
 * per audience, each bound to the pod so it dies with it; the same JSON kubelet hands to CSI drivers.
 * The empty audience asks for the API server's own audience. A refused request rejects with an
 * Internal DomainError naming the service account and audience, never containing a token.
 */
export class KubernetesTokenSource implements TokenSource {
  constructor(private readonly options: KubernetesTokenSourceOptions) {}

  async tokensFor(pod: PodIdentity, audiences: readonly string[]): Promise<string | undefined> {
    if (audiences.length === 0) return undefined;
    const tokens: Record<string, { token: string; expirationTimestamp: string }> = {};
    for (const audience of new Set(audiences)) tokens[audience] = await this.request(pod, audience);
    return JSON.stringify(tokens);
  }

  private async request(pod: PodIdentity, audience: string): Promise<{ token: string; expirationTimestamp: string }> {
    const serviceAccount = pod.serviceAccountName || DEFAULT_SERVICE_ACCOUNT;
    const action = `failed to request a token for serviceaccount ${pod.namespace}/${serviceAccount} (pod ${pod.name}, audience "${audience}")`;
    let status: { token?: string; expirationTimestamp?: Date | string } | undefined;
    try {
      const response = await this.options.client.core.createNamespacedServiceAccountToken({
        namespace: pod.namespace,
        name: serviceAccount,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: audience === '' ? [] : [audience],
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
            ...(this.options.expirationSeconds !== undefined ? { expirationSeconds: this.options.expirationSeconds } : {}),
          },
        },
      });
      status = response.status;
    } catch (error) {
      throw apiError(action, error);
    }
    if (!status?.token || status.expirationTimestamp === undefined) throw apiError(action, new Error('the response carries no token'));
    return { token: status.token, expirationTimestamp: toKubeTime(new Date(status.expirationTimestamp).getTime()) };
  }
}
