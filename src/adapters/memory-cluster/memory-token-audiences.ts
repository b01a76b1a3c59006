import { onePerAudience, type TokenRequest } from '../../domain/service-account-tokens.js';
import type { TokenAudiences } from '../../ports/token-audiences.js';

/**
 * The token requests of a cluster that has no CSIDriver object: a fixed list (none for the memory
 * profile, where kubelet is simulated and asks for no tokens; tests give some).
 */
export class MemoryTokenAudiences implements TokenAudiences {
  private readonly list: readonly TokenRequest[];

  constructor(requests: readonly TokenRequest[] = []) {
    this.list = onePerAudience(requests);
  }

  async requests(): Promise<readonly TokenRequest[]> {
    return this.list;
  }
}
