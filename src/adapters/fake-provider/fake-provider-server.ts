import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { loadProviderProtos } from '../../gen/load.js';
import type { CSIDriverProviderHandlers } from '../../gen/v1alpha1/CSIDriverProvider.js';
import type { MountRequest__Output } from '../../gen/v1alpha1/MountRequest.js';
import type { MountResponse } from '../../gen/v1alpha1/MountResponse.js';
import { startControlEndpoint, type ControlEndpoint } from './control-endpoint.js';
import { answerFakeMount } from './fake-mount.js';
import { FakeProviderState, type FakeAnswerTransform, type FakeFailure } from './fake-provider-state.js';
import { FakeSecretStore, type FakeObjectState } from './fake-secret-store.js';
import { InvalidAttributesError } from './mount-attributes.js';

export type { FakeAnswerTransform, FakeFailure } from './fake-provider-state.js';

/** The gRPC status message of an injected failure: callers can tell the failures they caused from real ones. */
export const INJECTED_FAILURE_MESSAGE = 'fake provider: injected failure';

export interface FakeProviderOptions {
  readonly socketPath: string;
  readonly runtimeName?: string;
  readonly runtimeVersion?: string;
  /** Keep objects and versions across restarts by passing the same store to each start. */
  readonly store?: FakeSecretStore;
  /** Serve the HTTP control endpoint on 127.0.0.1:<controlPort> (0 = any free port). */
  readonly controlPort?: number;
}

/** What a test or the simulation does with a running fake provider. */
export interface FakeProviderControls {
  readonly socketPath: string;
  readonly store: FakeSecretStore;
  /** `http://127.0.0.1:<port>` when the control endpoint was asked for. */
  readonly controlUrl: string | undefined;
  readonly mountCount: number;
  readonly versionCount: number;
  /** Mount calls being answered now. */
  readonly mountsInFlight: number;
  /** Mount calls the driver cancelled before the answer. */
  readonly cancelledMounts: number;
  readonly lastMountRequest: MountRequest__Output | undefined;
  /** The `:authority` of the last call. */
  readonly lastAuthority: string | undefined;
  rotate(name: string, contents?: string | Uint8Array): FakeObjectState;
  setFailure(failure: FakeFailure): void;
  clearFailure(): void;
  /** Rewrites every normal Mount answer from now on (undefined: answer normally again). */
  setAnswer(transform: FakeAnswerTransform | undefined): void;
  stop(): Promise<void>;
}

/**
 * Starts a provider API server on a unix socket that serves objects from an in-process store, as a
 * test peer for the gRPC provider client and as the provider of the local simulation. Always answers
 * with every file (it reads `current_object_version` only to record it).
 */
export async function startFakeProvider(options: FakeProviderOptions): Promise<FakeProviderControls> {
  const state = new FakeProviderState(options.store ?? new FakeSecretStore());
  const stopping = new AbortController();
  const server = new Server();
  server.addService(loadProviderProtos().v1alpha1.CSIDriverProvider.service, fakeProviderHandlers(state, options, stopping.signal));
  await mkdir(dirname(options.socketPath), { recursive: true });
  await rm(options.socketPath, { force: true }); // a stale socket from a previous run
  await bind(server, `unix://${options.socketPath}`);
  const control = options.controlPort === undefined ? undefined : await startControlEndpoint(state, options.controlPort);
  return controlsFor(state, options.socketPath, server, control, stopping);
}

function fakeProviderHandlers(state: FakeProviderState, options: FakeProviderOptions, stopped: AbortSignal): CSIDriverProviderHandlers {
  return {
    Version(call, callback) {
      state.versionCount++;
      state.lastAuthority = call.getHost();
      callback(null, {
        version: 'v1alpha1',
        runtimeName: options.runtimeName ?? 'fake-provider',
        runtimeVersion: options.runtimeVersion ?? '0.1.0',
      });
    },
    Mount(call, callback) {
      // A delayed answer is dropped when the server stops, so no timer outlives it.
      answerMount(state, call, callback, stopped).catch(() => undefined);
    },
  };
}

async function answerMount(
  state: FakeProviderState,
  call: ServerUnaryCall<MountRequest__Output, MountResponse>,
  callback: sendUnaryData<MountResponse>,
  stopped: AbortSignal,
): Promise<void> {
  state.mountArrived(Date.now());
  state.lastMountRequest = call.request;
  state.lastAuthority = call.getHost();
  const cancelled = new AbortController();
  let answering = true;
  // grpc-js also reports the end of an answered call as 'cancelled': only a call still open counts.
  call.on('cancelled', () => {
    if (!answering) return;
    state.cancelledMounts++;
    cancelled.abort();
  });
  try {
    const failure = state.takeFailure();
    if (failure?.delayMs) await sleep(failure.delayMs, undefined, { signal: AbortSignal.any([stopped, cancelled.signal]) });
    if (failure?.grpcStatus !== undefined) {
      return callback({ code: statusCode(failure.grpcStatus), details: INJECTED_FAILURE_MESSAGE });
    }
    if (failure?.code) return callback(null, { error: { code: failure.code } });
    try {
      const answer = mountResponse(state, call.request);
      callback(null, state.answerTransform ? state.answerTransform(answer, call.request) : answer);
    } catch (error) {
      const invalid = error instanceof InvalidAttributesError;
      callback({ code: invalid ? status.INVALID_ARGUMENT : status.INTERNAL, details: invalid ? error.message : 'fake provider: internal error' });
    }
  } finally {
    answering = false;
    state.mountsInFlight--;
  }
}

/** The shared fake answer (see fake-mount.ts) in wire shape. */
function mountResponse(state: FakeProviderState, request: MountRequest__Output): MountResponse {
  const answer = answerFakeMount(state.store, state.attributes, request);
  return {
    objectVersion: answer.objectVersions.map(({ id, version }) => ({ id, version })),
    files: answer.files.map(({ path, mode, contents }) => ({ path, mode, contents })),
  };
}

function statusCode(grpcStatus: number | keyof typeof status): number {
  return typeof grpcStatus === 'number' ? grpcStatus : status[grpcStatus];
}

function bind(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
  });
}

function controlsFor(
  state: FakeProviderState,
  socketPath: string,
  server: Server,
  control: ControlEndpoint | undefined,
  stopping: AbortController,
): FakeProviderControls {
  return {
    socketPath,
    store: state.store,
    controlUrl: control?.url,
    get mountCount() { return state.mountCount; },
    get versionCount() { return state.versionCount; },
    get mountsInFlight() { return state.mountsInFlight; },
    get cancelledMounts() { return state.cancelledMounts; },
    get lastMountRequest() { return state.lastMountRequest; },
    get lastAuthority() { return state.lastAuthority; },
    rotate: (name, contents) => state.store.rotate(name, contents),
    setFailure: (failure) => { state.failure = failure; },
    clearFailure: () => { state.failure = undefined; },
    setAnswer: (transform) => { state.answerTransform = transform; },
    async stop() {
      stopping.abort();
      server.forceShutdown();
      await control?.close();
      await rm(socketPath, { force: true });
    },
  };
}
