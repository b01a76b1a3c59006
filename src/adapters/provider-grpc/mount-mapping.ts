import type { ProviderMountRequest, ProviderMountResponse } from '../../domain/provider-request.js';
import type { MountRequest, MountResponse } from './provider-messages.js';

/** The wire MountRequest: every field copied 1:1 (the core already built the JSON texts). */
export function toWireMountRequest(request: ProviderMountRequest): MountRequest {
  return {
    attributes: request.attributes,
    secrets: request.secrets,
    targetPath: request.targetPath,
    permission: request.permission,
    currentObjectVersion: request.currentObjectVersion.map(({ id, version }) => ({ id, version })),
  };
}

/** The core's view of a MountResponse, unvalidated: an absent error is an empty `errorCode`. */
export function fromWireMountResponse(response: MountResponse): ProviderMountResponse {
  return {
    objectVersions: response.objectVersion.map(({ id, version }) => ({ id, version })),
    errorCode: response.error?.code ?? '',
    files: response.files.map((file) => ({
      path: file.path,
      mode: file.mode,
      // A view, not a copy: plain Uint8Array so the core never depends on Node's Buffer.
      contents: new Uint8Array(file.contents.buffer, file.contents.byteOffset, file.contents.byteLength),
    })),
  };
}
