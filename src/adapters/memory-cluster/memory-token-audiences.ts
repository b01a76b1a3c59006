import type { TokenAudiences } from '../../ports/token-audiences.js';

/**
 * The token audiences of a cluster that has no CSIDriver object: a fixed list (none for the memory
 * profile, where kubelet is simulated and asks for no tokens; tests give some).
 */
export class MemoryTokenAudiences implements TokenAudiences {
  private readonly list: readonly string[];

  constructor(audiences: readonly string[] = []) {
    this.list = [...new Set(audiences)];
  }

  async audiences(): Promise<readonly string[]> {
    return this.list;
  }
}
