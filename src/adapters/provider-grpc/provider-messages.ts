import { bytesField, int32Field, MessageCodec, messageField, repeatedMessageField, stringField, type UnaryMethod } from '../grpc-wire/protobuf-codec.js';

// The provider API messages (proto/provider.proto, package v1alpha1), field numbers as in the proto.

/** The default of a bytes field: shared, since it has nothing to change. */
const EMPTY_BYTES = Buffer.alloc(0);

export interface ObjectVersion {
  id: string;
  version: string;
}

export interface MountRequest {
  attributes: string;
  secrets: string;
  targetPath: string;
  permission: string;
  currentObjectVersion: ObjectVersion[];
}

export interface ProviderError {
  code: string;
}

export interface ProviderFile {
  path: string;
  mode: number;
  contents: Uint8Array;
}

export interface MountResponse {
  objectVersion: ObjectVersion[];
  error: ProviderError | null;
  files: ProviderFile[];
}

export interface VersionRequest {
  version: string;
}

export interface VersionResponse {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
}

export const OBJECT_VERSION = new MessageCodec<ObjectVersion>(() => ({ id: '', version: '' }), [
  stringField(1, 'id'),
  stringField(2, 'version'),
]);

export const MOUNT_REQUEST = new MessageCodec<MountRequest>(
  () => ({ attributes: '', secrets: '', targetPath: '', permission: '', currentObjectVersion: [] }),
  [
    stringField(1, 'attributes'),
    stringField(2, 'secrets'),
    stringField(3, 'targetPath'),
    stringField(4, 'permission'),
    repeatedMessageField(5, 'currentObjectVersion', OBJECT_VERSION),
  ],
);

export const PROVIDER_ERROR = new MessageCodec<ProviderError>(() => ({ code: '' }), [stringField(1, 'code')]);

export const PROVIDER_FILE = new MessageCodec<ProviderFile>(() => ({ path: '', mode: 0, contents: EMPTY_BYTES }), [
  stringField(1, 'path'),
  int32Field(2, 'mode'),
  bytesField(3, 'contents'),
]);

export const MOUNT_RESPONSE = new MessageCodec<MountResponse>(() => ({ objectVersion: [], error: null, files: [] }), [
  repeatedMessageField(1, 'objectVersion', OBJECT_VERSION),
  messageField(2, 'error', PROVIDER_ERROR),
  repeatedMessageField(3, 'files', PROVIDER_FILE),
]);

export const VERSION_REQUEST = new MessageCodec<VersionRequest>(() => ({ version: '' }), [stringField(1, 'version')]);

export const VERSION_RESPONSE = new MessageCodec<VersionResponse>(() => ({ version: '', runtimeName: '', runtimeVersion: '' }), [
  stringField(1, 'version'),
  stringField(2, 'runtimeName'),
  stringField(3, 'runtimeVersion'),
]);

export const MOUNT_METHOD: UnaryMethod<MountRequest, MountResponse> = {
  path: '/v1alpha1.CSIDriverProvider/Mount',
  request: MOUNT_REQUEST,
  response: MOUNT_RESPONSE,
};

export const VERSION_METHOD: UnaryMethod<VersionRequest, VersionResponse> = {
  path: '/v1alpha1.CSIDriverProvider/Version',
  request: VERSION_REQUEST,
  response: VERSION_RESPONSE,
};
