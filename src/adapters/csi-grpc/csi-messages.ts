import {
  boolField,
  enumField,
  int64Field,
  MessageCodec,
  messageField,
  oneofMember,
  repeatedMessageField,
  repeatedStringField,
  stringField,
  stringMapField,
  type UnaryMethod,
} from '../grpc-wire/protobuf-codec.js';

// The CSI messages a node plugin receives or sends (proto/csi.proto, package csi.v1), field numbers as
// in the proto. Shapes as proto-loader gives them (camelCase, enums by name, absent messages null, a
// oneof's member named in its case key), which the handlers were written against.

export type StringMap = Record<string, string>;

export type BlockVolume = Record<string, never>;

export interface MountVolume {
  fsType: string;
  mountFlags: string[];
  volumeMountGroup: string;
}

export const ACCESS_MODES = ['UNKNOWN', 'SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'MULTI_NODE_MULTI_WRITER'] as const;

export interface AccessMode {
  mode: (typeof ACCESS_MODES)[number] | number;
}

export interface VolumeCapability {
  block: BlockVolume | null;
  mount: MountVolume | null;
  accessMode: AccessMode | null;
  /** Which member of `oneof access_type` was sent, absent when none. */
  accessType?: 'block' | 'mount';
}

export interface CapacityRange {
  requiredBytes: number;
  limitBytes: number;
}

export type EmptyMessage = Record<string, never>;

export interface NodePublishVolumeRequest {
  volumeId: string;
  publishContext: StringMap;
  stagingTargetPath: string;
  targetPath: string;
  volumeCapability: VolumeCapability | null;
  readonly: boolean;
  secrets: StringMap;
  volumeContext: StringMap;
}

export interface NodeUnpublishVolumeRequest {
  volumeId: string;
  targetPath: string;
}

export interface NodeStageVolumeRequest {
  volumeId: string;
  publishContext: StringMap;
  stagingTargetPath: string;
  volumeCapability: VolumeCapability | null;
  secrets: StringMap;
  volumeContext: StringMap;
}

export interface NodeUnstageVolumeRequest {
  volumeId: string;
  stagingTargetPath: string;
}

export interface NodeGetVolumeStatsRequest {
  volumeId: string;
  volumePath: string;
  stagingTargetPath: string;
}

export interface NodeExpandVolumeRequest {
  volumeId: string;
  volumePath: string;
  capacityRange: CapacityRange | null;
  stagingTargetPath: string;
  volumeCapability: VolumeCapability | null;
  secrets: StringMap;
}

export interface GetPluginInfoResponse {
  name: string;
  vendorVersion: string;
  manifest: StringMap;
}

export const PLUGIN_SERVICE_TYPES = ['UNKNOWN', 'CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS', 'GROUP_CONTROLLER_SERVICE'] as const;
export const VOLUME_EXPANSION_TYPES = ['UNKNOWN', 'ONLINE', 'OFFLINE'] as const;

export interface PluginCapability {
  service: { type: (typeof PLUGIN_SERVICE_TYPES)[number] | number } | null;
  volumeExpansion: { type: (typeof VOLUME_EXPANSION_TYPES)[number] | number } | null;
}

export interface GetPluginCapabilitiesResponse {
  capabilities: PluginCapability[];
}

export interface ProbeResponse {
  ready: { value: boolean } | null;
}

export const NODE_RPC_TYPES = [
  'UNKNOWN',
  'STAGE_UNSTAGE_VOLUME',
  'GET_VOLUME_STATS',
  'EXPAND_VOLUME',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
  'VOLUME_MOUNT_GROUP',
] as const;

export interface NodeServiceCapability {
  rpc: { type: (typeof NODE_RPC_TYPES)[number] | number } | null;
}

export interface NodeGetCapabilitiesResponse {
  capabilities: NodeServiceCapability[];
}

export interface NodeGetInfoResponse {
  nodeId: string;
  maxVolumesPerNode: number;
  accessibleTopology: { segments: StringMap } | null;
}

export const CONTROLLER_RPC_TYPES = [
  'UNKNOWN',
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'PUBLISH_READONLY',
  'EXPAND_VOLUME',
  'LIST_VOLUMES_PUBLISHED_NODES',
  'VOLUME_CONDITION',
  'GET_VOLUME',
  'SINGLE_NODE_MULTI_WRITER',
  'MODIFY_VOLUME',
] as const;

export interface ControllerServiceCapability {
  rpc: { type: (typeof CONTROLLER_RPC_TYPES)[number] | number } | null;
}

export interface ControllerGetCapabilitiesResponse {
  capabilities: ControllerServiceCapability[];
}

/** Every message without fields (requests of the queries, responses of publish and unpublish). */
export const EMPTY_MESSAGE = new MessageCodec<EmptyMessage>(() => ({}), []);

const BLOCK_VOLUME = new MessageCodec<BlockVolume>(() => ({}), []);

const MOUNT_VOLUME = new MessageCodec<MountVolume>(() => ({ fsType: '', mountFlags: [], volumeMountGroup: '' }), [
  stringField(1, 'fsType'),
  repeatedStringField(2, 'mountFlags'),
  stringField(3, 'volumeMountGroup'),
]);

const ACCESS_MODE = new MessageCodec<AccessMode>(() => ({ mode: 'UNKNOWN' }), [enumField(1, 'mode', ACCESS_MODES)]);

export const VOLUME_CAPABILITY = new MessageCodec<VolumeCapability>(() => ({ block: null, mount: null, accessMode: null }), [
  oneofMember(messageField(1, 'block', BLOCK_VOLUME), 'accessType', 'block', ['mount']),
  oneofMember(messageField(2, 'mount', MOUNT_VOLUME), 'accessType', 'mount', ['block']),
  messageField(3, 'accessMode', ACCESS_MODE),
]);

const CAPACITY_RANGE = new MessageCodec<CapacityRange>(() => ({ requiredBytes: 0, limitBytes: 0 }), [
  int64Field(1, 'requiredBytes'),
  int64Field(2, 'limitBytes'),
]);

export const NODE_PUBLISH_VOLUME_REQUEST = new MessageCodec<NodePublishVolumeRequest>(
  () => ({ volumeId: '', publishContext: {}, stagingTargetPath: '', targetPath: '', volumeCapability: null, readonly: false, secrets: {}, volumeContext: {} }),
  [
    stringField(1, 'volumeId'),
    stringMapField(2, 'publishContext'),
    stringField(3, 'stagingTargetPath'),
    stringField(4, 'targetPath'),
    messageField(5, 'volumeCapability', VOLUME_CAPABILITY),
    boolField(6, 'readonly'),
    stringMapField(7, 'secrets'),
    stringMapField(8, 'volumeContext'),
  ],
);

export const NODE_UNPUBLISH_VOLUME_REQUEST = new MessageCodec<NodeUnpublishVolumeRequest>(() => ({ volumeId: '', targetPath: '' }), [
  stringField(1, 'volumeId'),
  stringField(2, 'targetPath'),
]);

export const NODE_STAGE_VOLUME_REQUEST = new MessageCodec<NodeStageVolumeRequest>(
  () => ({ volumeId: '', publishContext: {}, stagingTargetPath: '', volumeCapability: null, secrets: {}, volumeContext: {} }),
  [
    stringField(1, 'volumeId'),
    stringMapField(2, 'publishContext'),
    stringField(3, 'stagingTargetPath'),
    messageField(4, 'volumeCapability', VOLUME_CAPABILITY),
    stringMapField(5, 'secrets'),
    stringMapField(6, 'volumeContext'),
  ],
);

export const NODE_UNSTAGE_VOLUME_REQUEST = new MessageCodec<NodeUnstageVolumeRequest>(() => ({ volumeId: '', stagingTargetPath: '' }), [
  stringField(1, 'volumeId'),
  stringField(2, 'stagingTargetPath'),
]);

export const NODE_GET_VOLUME_STATS_REQUEST = new MessageCodec<NodeGetVolumeStatsRequest>(() => ({ volumeId: '', volumePath: '', stagingTargetPath: '' }), [
  stringField(1, 'volumeId'),
  stringField(2, 'volumePath'),
  stringField(3, 'stagingTargetPath'),
]);

export const NODE_EXPAND_VOLUME_REQUEST = new MessageCodec<NodeExpandVolumeRequest>(
  () => ({ volumeId: '', volumePath: '', capacityRange: null, stagingTargetPath: '', volumeCapability: null, secrets: {} }),
  [
    stringField(1, 'volumeId'),
    stringField(2, 'volumePath'),
    messageField(3, 'capacityRange', CAPACITY_RANGE),
    stringField(4, 'stagingTargetPath'),
    messageField(5, 'volumeCapability', VOLUME_CAPABILITY),
    stringMapField(6, 'secrets'),
  ],
);

export const GET_PLUGIN_INFO_RESPONSE = new MessageCodec<GetPluginInfoResponse>(() => ({ name: '', vendorVersion: '', manifest: {} }), [
  stringField(1, 'name'),
  stringField(2, 'vendorVersion'),
  stringMapField(3, 'manifest'),
]);

const PLUGIN_SERVICE = new MessageCodec<NonNullable<PluginCapability['service']>>(() => ({ type: 'UNKNOWN' }), [enumField(1, 'type', PLUGIN_SERVICE_TYPES)]);
const VOLUME_EXPANSION = new MessageCodec<NonNullable<PluginCapability['volumeExpansion']>>(() => ({ type: 'UNKNOWN' }), [
  enumField(1, 'type', VOLUME_EXPANSION_TYPES),
]);
const PLUGIN_CAPABILITY = new MessageCodec<PluginCapability>(() => ({ service: null, volumeExpansion: null }), [
  messageField(1, 'service', PLUGIN_SERVICE),
  messageField(2, 'volumeExpansion', VOLUME_EXPANSION),
]);

export const GET_PLUGIN_CAPABILITIES_RESPONSE = new MessageCodec<GetPluginCapabilitiesResponse>(() => ({ capabilities: [] }), [
  repeatedMessageField(1, 'capabilities', PLUGIN_CAPABILITY),
]);

const BOOL_VALUE = new MessageCodec<{ value: boolean }>(() => ({ value: false }), [boolField(1, 'value')]);

export const PROBE_RESPONSE = new MessageCodec<ProbeResponse>(() => ({ ready: null }), [messageField(1, 'ready', BOOL_VALUE)]);

const NODE_RPC = new MessageCodec<NonNullable<NodeServiceCapability['rpc']>>(() => ({ type: 'UNKNOWN' }), [enumField(1, 'type', NODE_RPC_TYPES)]);
const NODE_SERVICE_CAPABILITY = new MessageCodec<NodeServiceCapability>(() => ({ rpc: null }), [messageField(1, 'rpc', NODE_RPC)]);

export const NODE_GET_CAPABILITIES_RESPONSE = new MessageCodec<NodeGetCapabilitiesResponse>(() => ({ capabilities: [] }), [
  repeatedMessageField(1, 'capabilities', NODE_SERVICE_CAPABILITY),
]);

const TOPOLOGY = new MessageCodec<{ segments: StringMap }>(() => ({ segments: {} }), [stringMapField(1, 'segments')]);

export const NODE_GET_INFO_RESPONSE = new MessageCodec<NodeGetInfoResponse>(() => ({ nodeId: '', maxVolumesPerNode: 0, accessibleTopology: null }), [
  stringField(1, 'nodeId'),
  int64Field(2, 'maxVolumesPerNode'),
  messageField(3, 'accessibleTopology', TOPOLOGY),
]);

const CONTROLLER_RPC = new MessageCodec<NonNullable<ControllerServiceCapability['rpc']>>(() => ({ type: 'UNKNOWN' }), [
  enumField(1, 'type', CONTROLLER_RPC_TYPES),
]);
const CONTROLLER_SERVICE_CAPABILITY = new MessageCodec<ControllerServiceCapability>(() => ({ rpc: null }), [messageField(1, 'rpc', CONTROLLER_RPC)]);

export const CONTROLLER_GET_CAPABILITIES_RESPONSE = new MessageCodec<ControllerGetCapabilitiesResponse>(() => ({ capabilities: [] }), [
  repeatedMessageField(1, 'capabilities', CONTROLLER_SERVICE_CAPABILITY),
]);

/** A CSI method: its path under `/csi.v1.<Service>/` and its codecs. */
function method<Request, Response>(service: 'Identity' | 'Node' | 'Controller', name: string, request: MessageCodec<Request>, response: MessageCodec<Response>): UnaryMethod<Request, Response> {
  return { path: `/csi.v1.${service}/${name}`, request, response };
}

/** The methods served, by service and name (the names the handlers are keyed by). */
export const CSI_METHODS = {
  Identity: {
    GetPluginInfo: method('Identity', 'GetPluginInfo', EMPTY_MESSAGE, GET_PLUGIN_INFO_RESPONSE),
    GetPluginCapabilities: method('Identity', 'GetPluginCapabilities', EMPTY_MESSAGE, GET_PLUGIN_CAPABILITIES_RESPONSE),
    Probe: method('Identity', 'Probe', EMPTY_MESSAGE, PROBE_RESPONSE),
  },
  Node: {
    NodeStageVolume: method('Node', 'NodeStageVolume', NODE_STAGE_VOLUME_REQUEST, EMPTY_MESSAGE),
    NodeUnstageVolume: method('Node', 'NodeUnstageVolume', NODE_UNSTAGE_VOLUME_REQUEST, EMPTY_MESSAGE),
    NodePublishVolume: method('Node', 'NodePublishVolume', NODE_PUBLISH_VOLUME_REQUEST, EMPTY_MESSAGE),
    NodeUnpublishVolume: method('Node', 'NodeUnpublishVolume', NODE_UNPUBLISH_VOLUME_REQUEST, EMPTY_MESSAGE),
    NodeGetVolumeStats: method('Node', 'NodeGetVolumeStats', NODE_GET_VOLUME_STATS_REQUEST, EMPTY_MESSAGE),
    NodeExpandVolume: method('Node', 'NodeExpandVolume', NODE_EXPAND_VOLUME_REQUEST, EMPTY_MESSAGE),
    NodeGetCapabilities: method('Node', 'NodeGetCapabilities', EMPTY_MESSAGE, NODE_GET_CAPABILITIES_RESPONSE),
    NodeGetInfo: method('Node', 'NodeGetInfo', EMPTY_MESSAGE, NODE_GET_INFO_RESPONSE),
  },
  Controller: {
    ControllerGetCapabilities: method('Controller', 'ControllerGetCapabilities', EMPTY_MESSAGE, CONTROLLER_GET_CAPABILITIES_RESPONSE),
  },
} as const;
