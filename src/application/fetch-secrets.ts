import { DomainError, toDomainError } from '../domain/errors.js';
import { FetchKey, fetchSharing } from '../domain/fetch-key.js';
import { SUCCESS_RESULT } from '../domain/metric-labels.js';
import { sameObjectVersions, type ObjectVersion } from '../domain/object-versions.js';
import {
  buildMountRequest,
  interpretMountResponse,
  type ProviderMountRequest,
  type ProviderMountResponse,
  type ProviderPayload,
} from '../domain/provider-request.js';
import { assertMountable, type SecretProviderClass } from '../domain/secret-provider-class.js';
import type { VolumeRequest } from '../domain/volume-binding.js';
import type { Logger } from '../ports/logger.js';
import type { Metrics } from '../ports/metrics.js';
import type { ProviderCallOptions, SecretProvider } from '../ports/secret-provider.js';
import type { SecretProviderClassSource } from '../ports/secret-provider-class-source.js';
import { JoinedCall, KeyedTable, KUBELET_FETCH, type FetchContext } from './fetch-coalescing.js';
import type { ProviderRateLimiter } from './provider-rate-limiter.js';

export interface FetchedSecrets {
  readonly spc: SecretProviderClass;
  readonly payload: ProviderPayload;
}

/**
 * The MountRequest last built for a volume request and its single-flight key, with what they were built
 * from besides the request: the class object (the source hands out one object per class version) and
 * the current versions. A check of an unchanged mount builds neither again.
 */
interface BuiltRequest {
  readonly spc: SecretProviderClass;
  readonly currentVersions: readonly ObjectVersion[];
  readonly mountRequest: ProviderMountRequest;
  readonly singleFlightKey: FetchKey;
}

interface InFlightCall {
  readonly call: JoinedCall<ProviderMountResponse>;
  /** True once the call got past the rate limiter (a kubelet call never joins one still waiting). */
  readonly started: () => boolean;
}

/**
 * Resolves the binding's class as it is now and asks its provider for the current secrets.
 * Provider calls are coalesced: identical concurrent requests are one call (single-flight), and in a
 * rotation pass the bindings of a class that opted in to fetch-sharing share one call per sharing key.
 * The rotation loop's calls wait for the per-provider rate limiter; kubelet's calls never do.
 * A fetch whose context signal aborts rejects at once; the provider call is cancelled when no other
 * fetch waits for it. Each call actually made is counted once in `provider_requests_total`, by result.
 */
export class FetchSecrets {
  private readonly inFlight = new KeyedTable<InFlightCall>();
  /** Classes (uid -> generation) whose provider answered without files: sharing stays off for them. */
  private readonly providerWritesFiles = new Map<string, number>();
  /** By volume request: a binding keeps its request object until its credentials are refreshed. */
  private readonly built = new WeakMap<VolumeRequest, BuiltRequest>();

  constructor(
    private readonly classes: SecretProviderClassSource,
    private readonly provider: SecretProvider,
    private readonly metrics: Metrics,
    private readonly limiter?: ProviderRateLimiter,
    private readonly logger?: Logger,
  ) {}

  async execute(request: VolumeRequest, currentVersions: readonly ObjectVersion[], context: FetchContext = KUBELET_FETCH): Promise<FetchedSecrets> {
    const { namespace } = request.pod;
    const spc = await this.classes.get(namespace, request.className);
    if (spc === undefined) {
      throw new DomainError('ClassNotFound', `failed to get secretproviderclass ${namespace}/${request.className}: not found`);
    }
    try {
      assertMountable(spc);
      const built = this.mountRequest(spc, request, currentVersions);
      const response = await this.answer(spc, request, built, context);
      return { spc, payload: interpretMountResponse(spc.provider, response, Number(built.mountRequest.permission)) };
    } catch (error) {
      throw toDomainError(error).forProvider(spc.provider);
    }
  }

  /** Provider calls in flight now (single-flight table size). */
  get callsInFlight(): number {
    return this.inFlight.size;
  }

  private mountRequest(spc: SecretProviderClass, request: VolumeRequest, currentVersions: readonly ObjectVersion[]): BuiltRequest {
    const last = this.built.get(request);
    if (last !== undefined && last.spc === spc && sameObjectVersions(last.currentVersions, currentVersions)) return last;
    const mountRequest = buildMountRequest(spc, request, currentVersions);
    const built = { spc, currentVersions, mountRequest, singleFlightKey: FetchKey.singleFlight(spc.provider, mountRequest) };
    this.built.set(request, built);
    return built;
  }

  private async answer(spc: SecretProviderClass, request: VolumeRequest, built: BuiltRequest, context: FetchContext): Promise<ProviderMountResponse> {
    if (context.pass === undefined || !fetchSharing(spc.annotations).enabled) return this.call(spc.provider, built, context);
    const ownCall = (signal: AbortSignal | undefined): Promise<ProviderMountResponse> => this.call(spc.provider, built, { ...context, signal });
    if (this.providerWritesFiles.get(spc.uid) === spc.generation) return ownCall(context.signal);
    const onUnshareable = (): void => {
      if (this.providerWritesFiles.get(spc.uid) === spc.generation) return;
      this.providerWritesFiles.set(spc.uid, spc.generation);
      this.logger?.warn('provider wrote the files itself; not sharing its calls among bindings of this class', {
        class: `${spc.namespace}/${spc.name}`,
        provider: spc.provider,
      });
    };
    const { response } = await context.pass.share(FetchKey.sharing(spc, request), ownCall, onUnshareable, context.signal);
    return response;
  }

  /** Single-flight: an identical request already on its way to the provider is joined, not repeated. */
  private call(providerName: string, { mountRequest, singleFlightKey: key }: BuiltRequest, context: FetchContext): Promise<ProviderMountResponse> {
    const { origin } = context;
    const found = this.inFlight.find(key);
    // A call every fetch gave up is being cancelled: it can only fail, so it is replaced.
    const existing = found?.call.abandoned ? undefined : found;
    // kubelet does not wait behind a rotation call that is still queued at the rate limiter.
    if (existing !== undefined && (existing.started() || origin === 'rotation')) return existing.call.join(context.signal);
    const limiter = this.limiter;
    let started = limiter === undefined || limiter.tryAcquire(providerName, origin);
    const call = new JoinedCall(async (signal) => {
      if (!started) {
        await limiter!.acquire(providerName, origin, signal);
        started = true;
      }
      return this.countedMount(providerName, mountRequest, { signal, ...(context.timeoutMs !== undefined ? { timeoutMs: context.timeoutMs } : {}) });
    });
    const entry: InFlightCall = { call, started: () => started };
    if (existing === undefined) {
      this.inFlight.set(key, entry);
      const forget = (): void => this.inFlight.delete(key, entry);
      call.answer.then(forget, forget);
    }
    return call.join(context.signal);
  }

  private async countedMount(providerName: string, mountRequest: ProviderMountRequest, options: ProviderCallOptions): Promise<ProviderMountResponse> {
    try {
      const response = await this.provider.mount(providerName, mountRequest, options);
      this.metrics.providerRequest(providerName, response.errorCode || SUCCESS_RESULT);
      return response;
    } catch (error) {
      this.metrics.providerRequest(providerName, toDomainError(error).errorType);
      throw error;
    }
  }
}
