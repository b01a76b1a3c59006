import { loadApiCredentials, type ApiCredentials } from '../adapters/kubernetes/api-credentials.js';
import type { CliIo } from './cli-io.js';
import { UsageError } from './flags.js';

/**
 * `--kubeconfig` (or KUBECONFIG), else the in-cluster service account. A file that cannot be read or
 * parsed is a bad flag value, and no kubeconfig outside a pod a missing one: UsageError either way.
 */
export async function apiCredentialsFromFlag(path: string, env: CliIo['env']): Promise<ApiCredentials> {
  try {
    return await loadApiCredentials(path, env);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (path === '') throw new UsageError(reason);
    throw new UsageError(`invalid value "${path}" for flag "--kubeconfig" (or KUBECONFIG): ${reason}`);
  }
}
