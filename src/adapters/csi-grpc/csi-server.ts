import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../ports/logger.js';
import type { UnaryMethod } from '../grpc-wire/protobuf-codec.js';
import type { Metrics } from '../../ports/metrics.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';
import { controllerHandlers } from './controller-service.js';
import { CSI_METHODS } from './csi-messages.js';
import { parseCsiEndpoint } from './endpoint.js';
import { identityHandlers } from './identity-service.js';
import { nodeHandlers } from './node-service.js';
import type { HandlersOf } from './unary-call.js';
import { UnaryServer, type UnaryRoute } from './unary-server.js';

export interface CsiServerOptions {
  /** `--endpoint`: unix:///absolute/path.sock. */
  readonly endpoint: string;
  readonly driverName: string;
  readonly version: string;
  readonly nodeId: string;
  readonly volumes: NodeVolumes;
  readonly logger: Logger;
  /** Counts the publish/unpublish requests refused before they reach `volumes` (which counts the rest). */
  readonly metrics?: Metrics;
}

/** A running CSI server. */
export interface CsiServer {
  /** The socket path served. */
  readonly address: string;
  /** Lets running calls finish for up to `graceMs`, then cuts them off; removes the socket. */
  stop(graceMs?: number): Promise<void>;
}

export const DEFAULT_STOP_GRACE_MS = 5_000;

/**
 * Serves CSI Identity and Node (and the Controller capabilities csi-sanity asks for) on a unix socket,
 * the driving adapter kubelet talks to, with the driver's own unary gRPC server. Removes a stale socket
 * left by a previous run and creates the socket's directory before binding.
 */
export async function startCsiServer(options: CsiServerOptions): Promise<CsiServer> {
  const socketPath = parseCsiEndpoint(options.endpoint);
  if (!options.driverName) throw new Error('the CSI driver name is empty');
  if (!options.nodeId) throw new Error('the node id is empty');
  const server = new UnaryServer(
    new Map([
      ...routes(CSI_METHODS.Identity, identityHandlers(options, options.logger)),
      ...routes(CSI_METHODS.Node, nodeHandlers(options.volumes, options, options.logger, options.metrics)),
      ...routes(CSI_METHODS.Controller, controllerHandlers(options.logger)),
    ]),
  );
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await server.listen(socketPath);
  options.logger.info('csi server listening', { endpoint: options.endpoint, driverName: options.driverName, nodeId: options.nodeId });
  return {
    address: socketPath,
    async stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      await server.close(graceMs);
      await rm(socketPath, { force: true });
      options.logger.info('csi server stopped', { endpoint: options.endpoint });
    },
  };
}

/** The routes of a service: each method's path, codecs and handler (HandlersOf pairs them by name). */
function routes<Service extends Record<string, Pick<UnaryMethod<unknown, unknown>, 'path'>>>(methods: Service, handlers: HandlersOf<Service>): [string, UnaryRoute][] {
  return Object.keys(methods).map((name) => {
    const method = methods[name]!;
    return [method.path, { method, handler: handlers[name] } as unknown as UnaryRoute];
  });
}
