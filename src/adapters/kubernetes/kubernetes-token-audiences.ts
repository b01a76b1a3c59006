import { describeError } from '../../domain/errors.js';
import { onePerAudience, type TokenRequest } from '../../domain/service-account-tokens.js';
import type { Logger } from '../../ports/logger.js';
import type { TokenAudiences } from '../../ports/token-audiences.js';
import { apiError, apiFailure } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesTokenAudiencesOptions {
  readonly client: KubernetesClient;
  /** `--drivername`: the name of the CSIDriver object read. */
  readonly driverName: string;
  readonly logger?: Logger;
  /** How often the object is read again while started; default five minutes. */
  readonly refreshIntervalMs?: number;
}

const DEFAULT_REFRESH_MS = 5 * 60_000;

/** What one read found, and why there are no token requests when the object could not be seen. */
interface Reading {
  readonly tokenRequests: readonly TokenRequest[];
  readonly absence?: string;
}

/**
 * The CSIDriver's `spec.tokenRequests` (audience and expirationSeconds, the first for a repeated
 * audience), read with a plain `get` (RBAC `csidrivers get`, in the token-requests role) and kept in
 * memory; `start` reads it at once and then every `refreshIntervalMs`, a cheaper way than a watch to
 * follow an object that changes about never.
 * A missing object (404) has no audiences. So has a forbidden read (403): the token-requests role is
 * installed exactly when the CSIDriver names audiences, and without it no token could be minted anyway.
 * A failed refresh keeps the token requests read last; other read failures reject with an Internal
 * DomainError while nothing was read yet. Each change of what a read finds is logged once.
 */
export class KubernetesTokenAudiences implements TokenAudiences {
  private current: Promise<readonly TokenRequest[]> | undefined;
  private lastReading: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: KubernetesTokenAudiencesOptions) {}

  requests(): Promise<readonly TokenRequest[]> {
    if (this.current === undefined) {
      const reading = this.read();
      this.current = reading;
      reading.catch(() => {
        if (this.current === reading) this.current = undefined;
      });
    }
    return this.current;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? DEFAULT_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refresh(): Promise<void> {
    try {
      this.current = Promise.resolve(await this.read());
    } catch (error) {
      this.options.logger?.warn('reading the CSIDriver token audiences failed, keeping the last ones', {
        csiDriver: this.options.driverName,
        error: describeError(error),
      });
    }
  }

  private async read(): Promise<readonly TokenRequest[]> {
    const reading = await this.fetch();
    const text = JSON.stringify(reading);
    if (text !== this.lastReading) {
      this.lastReading = text;
      const fields = { csiDriver: this.options.driverName, tokenRequests: reading.tokenRequests, ...(reading.absence ? { absence: reading.absence } : {}) };
      this.options.logger?.info('service-account token audiences', fields);
    }
    return reading.tokenRequests;
  }

  private async fetch(): Promise<Reading> {
    const name = this.options.driverName;
    try {
      const driver = await this.options.client.read<{ spec?: { tokenRequests?: { audience: string; expirationSeconds?: number }[] } }>('csidrivers', apiPaths.csiDriver(name));
      const requests = (driver.spec?.tokenRequests ?? []).map(({ audience, expirationSeconds }) => ({
        audience,
        ...(expirationSeconds !== undefined ? { expirationSeconds } : {}),
      }));
      return { tokenRequests: onePerAudience(requests) };
    } catch (error) {
      switch (apiFailure(error).code) {
        case 404:
          return { tokenRequests: [], absence: `no CSIDriver ${name}` };
        case 403:
          return { tokenRequests: [], absence: `reading CSIDriver ${name} is forbidden (the token-requests role grants csidrivers get)` };
        default:
          throw apiError(`failed to read CSIDriver ${name}`, error);
      }
    }
  }
}
