import type { status } from '@grpc/grpc-js';
import type { MountRequest__Output } from '../../gen/v1alpha1/MountRequest.js';
import type { MountResponse } from '../../gen/v1alpha1/MountResponse.js';
import type { FakeSecretStore } from './fake-secret-store.js';
import { MountAttributesParser } from './mount-attributes.js';

/** A failure the fake provider injects into Mount calls until cleared (or for `times` calls). */
export interface FakeFailure {
  /** Answer with this provider error code in MountResponse.error. */
  readonly code?: string;
  /** Fail the call with this gRPC status instead (number or name, e.g. `UNAVAILABLE`). */
  readonly grpcStatus?: number | keyof typeof status;
  /** Wait this long before answering (or failing). */
  readonly delayMs?: number;
  /** Apply to this many Mount calls only, then clear itself. */
  readonly times?: number;
}

/**
 * Rewrites the fake's normal answer before it is sent, to make the provider misbehave on the wire
 * (escaping file paths, no object versions, an oversized response ...). Not applied to injected failures.
 */
export type FakeAnswerTransform = (answer: MountResponse, request: MountRequest__Output) => MountResponse;

/** How many Mount arrival times are kept. */
const RECENT_MOUNTS = 1000;

/** Mutable state shared by the gRPC handlers, the controls and the HTTP endpoint. */
export class FakeProviderState {
  mountCount = 0;
  versionCount = 0;
  /** Mount calls being answered now (a delayed answer counts until sent or cancelled). */
  mountsInFlight = 0;
  /** Mount calls their client cancelled before the answer. */
  cancelledMounts = 0;
  /** When the latest Mount calls arrived (ms since the epoch, oldest first, at most RECENT_MOUNTS). */
  readonly mountTimes: number[] = [];
  lastMountRequest: MountRequest__Output | undefined;
  lastAuthority: string | undefined;
  failure: FakeFailure | undefined;
  answerTransform: FakeAnswerTransform | undefined;
  readonly attributes = new MountAttributesParser();

  constructor(readonly store: FakeSecretStore) {}

  /** Notes a Mount call's arrival. */
  mountArrived(at: number): void {
    this.mountCount++;
    this.mountsInFlight++;
    this.mountTimes.push(at);
    if (this.mountTimes.length > RECENT_MOUNTS) this.mountTimes.shift();
  }

  /** The failure for this call, counting down `times`. */
  takeFailure(): FakeFailure | undefined {
    const failure = this.failure;
    if (failure?.times !== undefined) {
      this.failure = failure.times > 1 ? { ...failure, times: failure.times - 1 } : undefined;
    }
    return failure;
  }
}
