import { onePerAudience, type TokenRequest } from '../../domain/service-account-tokens.js';
import type { PodIdentity } from '../../domain/volume-binding.js';
import type { TokenSource } from '../../ports/token-source.js';
import { toKubeTime } from '../kube-objects/object-shapes.js';
import { apiError } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesTokenSourceOptions {
  readonly client: KubernetesClient;
}

/** One audience's entry in the tokens JSON kubelet hands to CSI drivers. */
interface MintedToken {
  readonly token: string;
  readonly expirationTimestamp: string;
}

/** The service account the API server gives a pod that names none. */
const DEFAULT_SERVICE_ACCOUNT = 'default';

/**
 * Service-account tokens through the TokenRequest API (`serviceaccounts/token` create), one request
 * per audience with its expirationSeconds (none: the API server's default), each bound to the pod so
 * it dies with it; the same requests and JSON as kubelet's for CSI drivers. The empty audience asks
 * for the API server's own audience. A refused request rejects with an Internal DomainError naming
 * the service account and audience, never containing a token.
 */
export class KubernetesTokenSource implements TokenSource {
  constructor(private readonly options: KubernetesTokenSourceOptions) {}

  async tokensFor(pod: PodIdentity, requests: readonly TokenRequest[]): Promise<string | undefined> {
    if (requests.length === 0) return undefined;
    const tokens: [string, MintedToken][] = [];
    for (const request of onePerAudience(requests)) tokens.push([request.audience, await this.request(pod, request)]);
    return JSON.stringify(Object.fromEntries(tokens));
  }

  private async request(pod: PodIdentity, { audience, expirationSeconds }: TokenRequest): Promise<MintedToken> {
    const serviceAccount = pod.serviceAccountName || DEFAULT_SERVICE_ACCOUNT;
    const action = `failed to request a token for serviceaccount ${pod.namespace}/${serviceAccount} (pod ${pod.name}, audience "${audience}")`;
    let status: { token?: string; expirationTimestamp?: string } | undefined;
    try {
      const response = await this.options.client.api.create<{ status?: typeof status }>(apiPaths.serviceAccountToken(pod.namespace, serviceAccount), {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: audience === '' ? [] : [audience],
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
          ...(expirationSeconds !== undefined ? { expirationSeconds } : {}),
        },
      });
      status = response?.status;
    } catch (error) {
      throw apiError(action, error);
    }
    if (!status?.token || status.expirationTimestamp === undefined) throw apiError(action, new Error('the response carries no token'));
    return { token: status.token, expirationTimestamp: toKubeTime(new Date(status.expirationTimestamp).getTime()) };
  }
}
