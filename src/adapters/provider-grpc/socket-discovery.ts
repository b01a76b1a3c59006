import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../../domain/errors.js';

/** The provider API's rule for provider names; it also keeps the name from escaping the socket dirs. */
const PROVIDER_NAME = /^[a-zA-Z0-9_-]{0,30}$/;

/** Rejects a provider name that could not name a socket file (DomainError `InvalidClass`). */
export function validateProviderName(providerName: string): void {
  if (providerName === '' || !PROVIDER_NAME.test(providerName)) {
    throw new DomainError(
      'InvalidClass',
      `invalid provider name "${providerName}": it must match ${PROVIDER_NAME.source} and not be empty`,
    );
  }
}

/** `<dir>/<provider>.sock` for each directory, in search order. */
export function providerSocketCandidates(providerName: string, dirs: readonly string[]): string[] {
  return dirs.map((dir) => join(dir, `${providerName}.sock`));
}

/**
 * The first candidate socket that exists. Rejects with `ProviderUnavailable` naming every path tried,
 * so a missing or misnamed provider fails at once instead of waiting for a connect timeout.
 */
export async function findProviderSocket(providerName: string, dirs: readonly string[]): Promise<string> {
  validateProviderName(providerName);
  const candidates = providerSocketCandidates(providerName, dirs);
  for (const candidate of candidates) {
    if (await isSocket(candidate)) return candidate;
  }
  throw new DomainError(
    'ProviderUnavailable',
    `provider "${providerName}" is not running: no socket at ${candidates.join(', ')}`,
  );
}

export async function isSocket(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isSocket();
  } catch {
    return false;
  }
}
