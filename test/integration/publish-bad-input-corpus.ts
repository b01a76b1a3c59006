import { status } from '@grpc/grpc-js';
import { kubeletPublishRequest } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import type { FakeAnswerTransform } from '../../src/adapters/fake-provider/fake-provider-server.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';
import type { NodePublishVolumeRequest } from '../../src/gen/csi/v1/NodePublishVolumeRequest.js';
import { NAMESPACE } from './publish-bad-input-harness.js';

/**
 * The bad-input corpus of NodePublishVolume: bad requests, classes naming escaping providers, and provider
 * answers the driver must refuse. Used against this driver (publish-bad-input*.test.ts) and side by side with
 * the upstream driver (test/e2e/upstream-differential.test.ts).
 */

/** The wire request kubelet would send for `command`, with `overrides` applied (null removes a message field). */
export function wireRequest(command: PublishCommand, overrides: Partial<NodePublishVolumeRequest> = {}): NodePublishVolumeRequest {
  return { ...kubeletPublishRequest(command), ...overrides };
}

/** A bad NodePublishVolume: what to change in a good request, and what the driver must answer. */
export interface BadRequest {
  readonly name: string;
  readonly change: (command: PublishCommand) => NodePublishVolumeRequest;
  readonly code: status;
  /** Text the status message must contain. */
  readonly mentions: string;
  /** The metric `error_type` the failure is counted under. */
  readonly errorType: string;
}

function without(context: PublishCommand['volumeContext'], ...keys: string[]): Record<string, string> {
  const rest: Record<string, string> = { ...context };
  for (const key of keys) delete rest[key];
  return rest;
}

export const BAD_REQUESTS: readonly BadRequest[] = [
  { name: 'no volume_id', change: (c) => wireRequest(c, { volumeId: '' }), code: status.INVALID_ARGUMENT, mentions: 'volume_id', errorType: 'InvalidVolumeContext' },
  { name: 'no target_path', change: (c) => wireRequest(c, { targetPath: '' }), code: status.INVALID_ARGUMENT, mentions: 'target_path', errorType: 'InvalidTargetPath' },
  {
    name: 'no volume_capability',
    change: (c) => wireRequest(c, { volumeCapability: null }),
    code: status.INVALID_ARGUMENT,
    mentions: 'volume_capability',
    errorType: 'InvalidVolumeContext',
  },
  {
    name: 'an empty volume_context',
    change: (c) => wireRequest(c, { volumeContext: {} }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${VolumeContextKey.secretProviderClass}"`,
    errorType: 'MissingVolumeContext',
  },
  {
    name: 'no secretProviderClass in volume_context',
    change: (c) => wireRequest(c, { volumeContext: without(c.volumeContext, VolumeContextKey.secretProviderClass) }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${VolumeContextKey.secretProviderClass}"`,
    errorType: 'MissingVolumeContext',
  },
  ...[VolumeContextKey.podName, VolumeContextKey.podNamespace, VolumeContextKey.podUid].map((key): BadRequest => ({
    name: `no ${key} in volume_context (no pod info)`,
    change: (c) => wireRequest(c, { volumeContext: without(c.volumeContext, key) }),
    code: status.INVALID_ARGUMENT,
    mentions: `volume_context is missing "${key}"`,
    errorType: 'MissingVolumeContext',
  })),
  { name: 'readonly false', change: (c) => wireRequest(c, { readonly: false }), code: status.INVALID_ARGUMENT, mentions: 'readonly', errorType: 'InvalidReadonly' },
  {
    name: 'a class that does not exist',
    change: (c) => wireRequest(c, { volumeContext: { ...c.volumeContext, [VolumeContextKey.secretProviderClass]: 'no-such-class' } }),
    code: status.NOT_FOUND,
    mentions: `failed to get secretproviderclass ${NAMESPACE}/no-such-class`,
    errorType: 'ClassNotFound',
  },
];

/** Provider names that would reach a socket outside the provider dirs, or in a subdirectory of one. */
export const ESCAPING_PROVIDER_NAMES = ['../evil', '../../evil', 'a/b', '../providers/fake', 'a/../../../evil'];

/** The driver's `--max-call-recv-msg-size` in these tests: the normal answer fits, an 8 KiB one does not. */
export const RECV_LIMIT = 4096;

/** A misbehaving provider answer: how the fake rewrites it, and what the driver must answer. */
export interface BadAnswer {
  readonly name: string;
  readonly transform: FakeAnswerTransform;
  readonly code: keyof typeof status;
  readonly mentions: string;
  readonly errorType: string;
  /** The provider's file path: where it resolves from the target must stay absent. */
  readonly escapesTo?: string;
}

/** The normal answer plus one file at `path`: the good file must not be written either. */
export function withFileAt(path: string): FakeAnswerTransform {
  return (answer) => ({ ...answer, files: [...(answer.files ?? []), { path, mode: 420, contents: Buffer.from('escaped') }] });
}

export const BAD_ANSWERS: readonly BadAnswer[] = [
  { name: 'a file path "../x" escaping the target', transform: withFileAt('../x'), code: 'INVALID_ARGUMENT', mentions: 'invalid file path "../x"', errorType: 'InvalidPayloadPath', escapesTo: '../x' },
  { name: 'an absolute file path "/abs"', transform: withFileAt('/abs'), code: 'INVALID_ARGUMENT', mentions: 'invalid file path "/abs"', errorType: 'InvalidPayloadPath', escapesTo: '/abs' },
  {
    name: 'a file path "a/../../b" escaping after normalisation',
    transform: withFileAt('a/../../b'),
    code: 'INVALID_ARGUMENT',
    mentions: 'invalid file path "a/../../b"',
    errorType: 'InvalidPayloadPath',
    escapesTo: 'a/../../b',
  },
  {
    name: `a response larger than --max-call-recv-msg-size (${RECV_LIMIT})`,
    transform: (answer) => ({ ...answer, files: [...(answer.files ?? []), { path: 'big', mode: 420, contents: Buffer.alloc(2 * RECV_LIMIT, 0x61) }] }),
    // The client refuses the message before reading it; RESOURCE_EXHAUSTED as upstream answers it.
    code: 'RESOURCE_EXHAUSTED',
    mentions: `more than --max-call-recv-msg-size (${RECV_LIMIT})`,
    errorType: 'RESOURCE_EXHAUSTED',
  },
  {
    name: 'files but no object versions',
    transform: (answer) => ({ ...answer, objectVersion: [] }),
    code: 'FAILED_PRECONDITION',
    mentions: 'missing object versions',
    errorType: 'MissingObjectVersions',
  },
];
