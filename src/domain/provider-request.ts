import { excerpt, utf8Length } from './bounded-text.js';
import { DomainError } from './errors.js';
import { sortObjectVersions, type ObjectVersion } from './object-versions.js';
import { DEFAULT_FILE_MODE, validatePayload, type SecretFile } from './secret-payload.js';
import type { SecretProviderClass } from './secret-provider-class.js';
import type { StringMap, VolumeRequest } from './volume-binding.js';
import { VolumeContextKey } from './volume-context.js';
import { volumeOwnership } from './volume-ownership.js';

/** The provider API's MountRequest, with the JSON-text fields exactly as existing providers parse them. */
export interface ProviderMountRequest {
  readonly attributes: string;
  readonly secrets: string;
  readonly targetPath: string;
  readonly permission: string;
  readonly currentObjectVersion: readonly ObjectVersion[];
}

/** The provider API's MountResponse before validation. */
export interface ProviderMountResponse {
  readonly objectVersions: readonly ObjectVersion[];
  readonly errorCode: string;
  readonly files: readonly SecretFile[];
}

/** A validated provider answer. `files` is empty for a provider that wrote the files itself. */
export interface ProviderPayload {
  readonly objectVersions: readonly ObjectVersion[];
  readonly files: readonly SecretFile[];
}

/**
 * The MountRequest for a volume. `permission` is the mode of files the provider sets none for:
 * 0644 as upstream, 0640 for a volume with a mount group, or the class's file-mode annotation.
 */
export function buildMountRequest(
  spc: SecretProviderClass,
  request: VolumeRequest,
  currentVersions: readonly ObjectVersion[],
): ProviderMountRequest {
  const attributes: Record<string, string> = { ...spc.parameters, ...request.volumeContext };
  if (request.serviceAccountTokens !== undefined) {
    attributes[VolumeContextKey.serviceAccountTokens] = request.serviceAccountTokens;
  }
  return {
    attributes: sortedJson(attributes),
    secrets: Object.keys(request.nodePublishSecrets).length === 0 ? 'null' : sortedJson(request.nodePublishSecrets),
    targetPath: request.target.path,
    permission: String(volumeOwnership(request.mountGroup, spc).fileMode),
    currentObjectVersion: sortObjectVersions(currentVersions),
  };
}

/**
 * What the driver accepts of one provider answer. The object versions are stored in the pod status
 * object (the API server keeps objects up to about 1.5 MiB); the files become inodes and writes on the
 * node. Generous for real classes (tens of objects, ids of a few hundred bytes), far below what would
 * hurt the node or the API server.
 */
export const ProviderAnswerLimit = {
  objectVersions: 1000,
  /** Each id and each version, in UTF-8 bytes. */
  objectVersionFieldBytes: 1024,
  /** All ids and versions together, in UTF-8 bytes. */
  objectVersionsTotalBytes: 256 * 1024,
  files: 10_000,
  /** All file paths together, in UTF-8 bytes. */
  filePathsTotalBytes: 1024 * 1024,
} as const;

/**
 * Applies the provider API's response rules; throws a precise DomainError for anything unusable. Files
 * without a mode get `permission`, the default mode the request told the provider (upstream's 0644 by default).
 */
export function interpretMountResponse(providerName: string, response: ProviderMountResponse, permission = DEFAULT_FILE_MODE): ProviderPayload {
  if (response.errorCode) {
    throw new DomainError('ProviderError', `provider "${providerName}" failed to mount: ${response.errorCode}`, response.errorCode);
  }
  if (response.objectVersions.length === 0) {
    throw new DomainError('MissingObjectVersions', `provider "${providerName}" returned missing object versions`);
  }
  assertWithinLimits(providerName, response);
  return {
    objectVersions: sortObjectVersions(response.objectVersions),
    files: validatePayload(response.files, permission),
  };
}

/** Refuses an answer beyond ProviderAnswerLimit, before anything of it is written anywhere. */
function assertWithinLimits(providerName: string, response: ProviderMountResponse): void {
  const refuse = (what: string, accepted: string): never => {
    throw new DomainError('ProviderAnswerTooLarge', `provider "${providerName}" returned ${what}; at most ${accepted} are accepted`);
  };
  const max = ProviderAnswerLimit;
  const { objectVersions, files } = response;
  if (objectVersions.length > max.objectVersions) refuse(`${objectVersions.length} object versions`, `${max.objectVersions}`);
  let versionBytes = 0;
  for (const { id, version } of objectVersions) {
    for (const [field, value] of [['id', id], ['version', version]] as const) {
      const bytes = utf8Length(value);
      if (bytes > max.objectVersionFieldBytes) {
        refuse(`an object version ${field} of ${bytes} bytes ("${excerpt(value)}")`, `${max.objectVersionFieldBytes} bytes`);
      }
      versionBytes += bytes;
    }
  }
  if (versionBytes > max.objectVersionsTotalBytes) refuse(`object versions of ${versionBytes} bytes in total`, `${max.objectVersionsTotalBytes} bytes`);
  if (files.length > max.files) refuse(`${files.length} files`, `${max.files}`);
  const pathBytes = files.reduce((sum, file) => sum + utf8Length(file.path), 0);
  if (pathBytes > max.filePathsTotalBytes) refuse(`file paths of ${pathBytes} bytes in total`, `${max.filePathsTotalBytes} bytes`);
}

/**
 * JSON of a flat string map as Go's encoding/json writes it: keys sorted, and `<`, `>`, `&`, U+2028 and
 * U+2029 escaped, so providers receive the same bytes as from the upstream driver.
 */
export function sortedJson(map: StringMap): string {
  // Written pair by pair: a JS object would list integer-like keys ("9", "10") first and drop `__proto__`.
  const pairs = Object.keys(map)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${JSON.stringify(map[key]!)}`);
  return `{${pairs.join(',')}}`.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
